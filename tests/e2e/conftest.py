"""End-to-end: a real gunicorn, a real Celery worker, real PostgreSQL and Redis, and the fakes of
Robokassa and amoCRM. Every network here is signed up through the live API (`live_network`, in the
root conftest) and dropped after."""
