/*
 * Bitrix24's deal tab (crm_sync/placement.py renders the page): the shared card (card.js) for the
 * deal the portal opened, against the widget API with our frame token. Each answer carries the
 * next token in the same header (a token is good for one call), so calls go one at a time.
 */
(function () {
  'use strict';

  var REQUEST_TIMEOUT_MS = 20000;
  var node = document.getElementById('fpl-config');
  var root = document.querySelector('.js-fpl-root');
  if (!node || !root || !window.FplCard) { return; }
  var config = JSON.parse(node.textContent || '{}');
  var Card = window.FplCard;
  var t = Card.translator({ lcard: config.strings || {} });
  var token = String(config.token || '');
  var dealId = parseInt(config.dealId, 10);
  var state = { busy: '', data: null, error: null, notice: '', updatedAt: null, seq: 0 };

  function url(kind) {
    return config.api + '/leads/' + encodeURIComponent(dealId) + '/' + kind;
  }

  function paint() {
    Card.show(root, Card.view(state, t, {}));  // morphed: the button under the pointer stays
    if (window.BX24 && typeof window.BX24.fitWindow === 'function') { window.BX24.fitWindow(); }
  }

  function call(method, address) {
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) { controller.abort(); } }, REQUEST_TIMEOUT_MS);
    var headers = { Accept: 'application/json' };
    headers[config.tokenHeader] = token;
    var options = { method: method, headers: headers, credentials: 'omit', cache: 'no-store' };
    if (controller) { options.signal = controller.signal; }
    if (method === 'POST') {
      headers['Content-Type'] = 'application/json';
      options.body = '{}';
    }
    return fetch(address, options).then(function (response) {
      clearTimeout(timer);
      var next = response.headers.get(config.tokenHeader);
      if (next) { token = next; }
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        return { status: response.status, body: body, retryAfter: response.headers.get('Retry-After') };
      });
    }, function (error) {
      clearTimeout(timer);
      return { status: 0, body: null, timeout: !!(error && error.name === 'AbortError') };
    });
  }

  // GET (read), POST (generate) or DELIVER («Услуга оказана»).
  function request(method) {
    if (!dealId || state.busy) { return; }
    var seq = ++state.seq;
    state.busy = method;
    state.notice = '';
    paint();
    var deliver = method === 'DELIVER';
    call(deliver ? 'POST' : method, url(deliver ? 'delivered' : 'links')).then(function (answer) {
      if (seq !== state.seq) { return; }
      state.busy = '';
      if (answer.status >= 200 && answer.status < 300 && Card.isGoodAnswer(answer.body)) {
        state.data = answer.body;
        state.error = null;
        state.updatedAt = new Date();
        state.notice = method === 'POST' ? t('lcard.generated') : (deliver ? t('lcard.delivered_done') : '');
      } else if (method === 'GET' && answer.status === 404) {
        state.error = null;  // nothing generated yet: say so above the button
        state.notice = t('lcard.no_links');
      } else {
        var failure = Card.describeFailure(t, answer.status, answer.body,
          answer.timeout ? 'timeout' : 'error', answer.retryAfter);
        state.error = failure.connect ? { message: (answer.body && answer.body.detail) || t('lcard.errors.status_401') } : failure;
      }
      paint();
    });
  }

  root.addEventListener('click', function (e) {
    var target = e.target && e.target.closest ? e.target.closest('button') : null;
    if (!target || !root.contains(target) || target.disabled) { return; }
    var has = function (name) { return target.classList.contains(name); };
    if (has('js-fpl-copy')) {
      e.preventDefault();
      Card.copyFromButton(target, t);
    } else if (has('js-fpl-generate')) {
      e.preventDefault();
      request('POST');
    } else if (has('js-fpl-deliver')) {
      e.preventDefault();
      request('DELIVER');
    } else if (has('js-fpl-refresh')) {
      e.preventDefault();
      request('GET');
    }
  });

  document.documentElement.setAttribute('data-fpl-ready', '1');
  request('GET');
}());
