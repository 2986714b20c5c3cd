/*
 * The deal card's payment-links view, shared by the amoCRM widget (inlined into its script.js by
 * frontend/amocrm_widget/build.py) and Bitrix24's deal tab (loaded by placement.js). No library:
 * plain DOM, ES5, nothing inline (both hosts run under a strict Content-Security-Policy).
 *
 * FplCard.view(state, t, options) draws the partner, the location, the deal's sums, the two links
 * with copy buttons, «Сформировать ссылки» and «Услуга оказана» from the links answer
 * (CONTRACT.md «Widget API»); the host keeps the state, makes the calls and binds the clicks
 * (classes js-fpl-generate, js-fpl-refresh, js-fpl-deliver, js-fpl-copy).
 */
(function (root) {
  'use strict';

  var NBSP = '\u00a0';
  var KNOWN_ERROR_STATUSES = [400, 401, 403, 404, 409, 422, 429];
  var LINK_ORDER = { prepayment: 0, full: 1 };

  function lookup(obj, parts) {
    for (var i = 0; i < parts.length; i++) {
      if (obj === null || typeof obj !== 'object') { return undefined; }
      obj = obj[parts[i]];
    }
    return obj;
  }

  function fill(template, params) {
    return String(template).replace(/\{(\w+)\}/g, function (whole, name) {
      return params && params[name] !== undefined ? String(params[name]) : whole;
    });
  }

  /* "1500.00" -> "1 500,00 ₽" (non-breaking spaces). Amounts stay strings: no float rounding. */
  function formatMoney(value, currency) {
    var text = String(value === null || value === undefined ? '' : value).trim();
    var m = /^(-?)(\d+)(?:[.,](\d+))?$/.exec(text);
    if (!m) { return text; }
    var whole = m[2].replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, NBSP);
    var cents = ((m[3] || '') + '00').slice(0, 2);
    var sign = !currency || currency === 'RUB' ? '\u20bd' : currency;
    return m[1] + whole + ',' + cents + NBSP + sign;
  }

  function safeHref(url) {
    return typeof url === 'string' && /^https?:\/\/[^\s]+$/i.test(url) ? url : null;
  }

  function twoDigits(n) { return (n < 10 ? '0' : '') + n; }

  function clock(d) { return twoDigits(d.getHours()) + ':' + twoDigits(d.getMinutes()); }

  function formatStamp(iso) {
    if (typeof iso !== 'string' || !iso) { return ''; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ''; }
    return twoDigits(d.getDate()) + '.' + twoDigits(d.getMonth() + 1) + '.' + d.getFullYear() + ' ' + clock(d);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function attrs(node, values) {
    for (var name in values) {
      if (Object.prototype.hasOwnProperty.call(values, name)) { node.setAttribute(name, values[name]); }
    }
    return node;
  }

  function append(parent) {
    for (var i = 1; i < arguments.length; i++) {
      if (arguments[i]) { parent.appendChild(arguments[i]); }
    }
    return parent;
  }

  function button(className, text, disabled) {
    var node = attrs(el('button', className, text), { type: 'button' });
    node.disabled = !!disabled;
    return node;
  }

  /* A failed call → {message, support} for the error box; {connect: true} for an account no
   * network has yet. status 0 = no answer; body = the parsed {"detail","code"} or null. */
  function describeFailure(t, status, body, textStatus, retryAfter) {
    body = body || {};
    var code = typeof body.code === 'string' ? body.code : '';
    var detail = typeof body.detail === 'string' ? body.detail.trim() : '';
    if ((status === 401 || status === 403) && code === 'account_not_bound') {
      return { connect: true };
    }
    var message;
    if (status === 0) {
      message = t(textStatus === 'timeout' ? 'lcard.errors.timeout' : 'lcard.errors.network');
    } else if (status >= 200 && status < 300) {
      message = t('lcard.errors.bad_answer');
    } else if (detail) {
      message = detail;
    } else if (status >= 500) {
      message = t('lcard.errors.status_5xx');
    } else if (KNOWN_ERROR_STATUSES.indexOf(status) !== -1) {
      message = t('lcard.errors.status_' + status);
    } else {
      message = t('lcard.errors.other', { status: status });
    }
    var wait = parseInt(retryAfter, 10);
    if (status === 429 && wait > 0) { message += ' ' + t('lcard.errors.retry_after', { seconds: wait }); }
    return { message: message, support: status === 0 || status >= 500 };
  }

  /* ------------------------------------------------------------------------- clipboard */

  function legacyCopy(text) {
    var area = el('textarea', 'fpl-copy-buffer');
    area.readOnly = true;
    area.value = text;
    area.style.position = 'fixed';
    area.style.top = '-1000px';
    area.style.left = '-1000px';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  /* Copies `text`; done(ok) once. */
  function copyText(text, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); },
        function () { done(legacyCopy(text)); });
    } else {
      done(legacyCopy(text));
    }
  }

  /* A copy button pressed: copy its data-copy and say so on the button for a moment. */
  function copyFromButton(btn, t) {
    copyText(String(btn.getAttribute('data-copy') || ''), function (ok) {
      btn.textContent = t(ok ? 'lcard.copied' : 'lcard.copy_failed');
      btn.className += ok ? ' fpl-copy_done' : ' fpl-copy_failed';
      setTimeout(function () {
        btn.textContent = t('lcard.copy');
        btn.className = btn.className.replace(/\s*fpl-copy_(done|failed)/g, '');
      }, 1800);
    });
  }

  /* ------------------------------------------------------------------------- view */

  function pill(kind, text, extraClass) {
    return el('span', 'fpl-pill fpl-pill_' + kind + (extraClass ? ' ' + extraClass : ''), text);
  }

  function copyButton(t, value) {
    return attrs(button('fpl-copy js-fpl-copy', t('lcard.copy')), { 'data-copy': value });
  }

  function row(label, value, className) {
    return append(el('div', 'fpl-row ' + className),
      el('span', 'fpl-row__label', label), el('span', 'fpl-row__value', value || '—'));
  }

  function linkCard(t, link, currency) {
    var kind = LINK_ORDER.hasOwnProperty(link.kind) ? link.kind : 'other';
    var status = /^(active|paid|closed)$/.test(link.status) ? link.status : 'unknown';
    var card = attrs(el('div', 'fpl-link fpl-link_' + kind + ' fpl-link_status_' + status),
      { 'data-kind': link.kind || '' });
    append(card, append(el('div', 'fpl-link__head'),
      el('span', 'fpl-link__kind', t('lcard.kind.' + kind)),
      pill(status, t('lcard.link_status.' + status), 'fpl-link__status')));
    append(card, el('div', 'fpl-link__amount', formatMoney(link.amount, currency)));
    var href = safeHref(link.url);
    var urlRow = el('div', 'fpl-link__url-row');
    if (href) {
      append(urlRow, attrs(el('a', 'fpl-link__url', href.replace(/^https?:\/\//i, '')),
        { href: href, target: '_blank', rel: 'noopener noreferrer', title: t('lcard.open_link') }));
      append(urlRow, copyButton(t, href));
    } else {
      append(urlRow, el('span', 'fpl-link__url fpl-link__url_none', '—'));
    }
    return append(card, urlRow);
  }

  function dealSummary(t, deal) {
    var currency = deal.currency;
    var status = /^(open|partially_paid|paid|overpaid)$/.test(deal.status) ? deal.status : '';
    var box = el('div', 'fpl-deal');
    var top = append(el('div', 'fpl-deal__top'), el('span', 'fpl-deal__title', t('lcard.deal_title')));
    if (status) { append(top, pill('deal_' + status, t('lcard.deal_status.' + status), 'fpl-deal__status')); }
    append(box, top);
    var nums = el('div', 'fpl-deal__nums');
    var pairs = [['total', deal.total], ['paid', deal.paid], ['remaining', deal.remaining]];
    for (var i = 0; i < pairs.length; i++) {
      append(nums, append(el('div', 'fpl-deal__num fpl-deal__num_' + pairs[i][0]),
        el('span', 'fpl-deal__label', t('lcard.' + pairs[i][0])),
        el('span', 'fpl-deal__value', formatMoney(pairs[i][1], currency))));
    }
    append(box, nums);
    // Test-mode payments are never money: named as such, kept out of "paid".
    if (deal.test_paid && Number(deal.test_paid) > 0) {
      append(box, el('div', 'fpl-deal__test js-fpl-test-paid',
        t('lcard.test_paid') + ': ' + formatMoney(deal.test_paid, currency)));
    }
    var delivered = formatStamp(deal.delivered_at);
    if (delivered) {
      append(box, el('div', 'fpl-deal__delivered js-fpl-delivered', t('lcard.delivered_at', { time: delivered })));
    }
    var settlements = [];
    var receipts = Array.isArray(deal.receipts) ? deal.receipts : [];
    for (var j = 0; j < receipts.length; j++) {
      if (receipts[j] && receipts[j].kind === 'settlement') { settlements.push(receipts[j]); }
    }
    if (settlements.length) {
      var registered = 0;
      var failed = 0;
      for (var k = 0; k < settlements.length; k++) {
        if (settlements[k].status === 'registered') { registered++; }
        if (settlements[k].status === 'failed') { failed++; }
      }
      var line = el('div', 'fpl-deal__receipts js-fpl-receipts',
        t('lcard.receipts', { registered: registered, total: settlements.length }));
      if (failed) {
        append(line, el('span', 'fpl-deal__receipts-failed js-fpl-receipts-failed', t('lcard.receipts_failed', { n: failed })));
      }
      append(box, line);
    }
    return box;
  }

  function errorBox(t, state, withRetry, supportUrl) {
    var error = state.error;
    var box = attrs(el('div', 'fpl-alert fpl-alert_error js-fpl-error'), { role: 'alert' });
    append(box, el('span', 'fpl-alert__text', error.message));
    var actions = el('div', 'fpl-alert__actions');
    if (withRetry) { append(actions, button('fpl-alert__action js-fpl-refresh', t('lcard.retry'), !!state.busy)); }
    if (error.support && supportUrl) {
      append(actions, attrs(el('a', 'fpl-alert__action fpl-alert__link', t('lcard.errors.support')),
        { href: supportUrl, target: '_blank', rel: 'noopener noreferrer' }));
    }
    return actions.childNodes.length ? append(box, actions) : box;
  }

  function busyButton(state, busyWhen, className, label, busyLabel) {
    var busy = state.busy === busyWhen;
    return button(className + (busy ? ' fpl-button_busy' : ''), busy ? busyLabel : label, !!state.busy);
  }

  function sortedLinks(data) {
    var links = [];
    var given = Array.isArray(data.links) ? data.links : [];
    for (var i = 0; i < given.length; i++) {
      if (given[i] && typeof given[i] === 'object') { links.push(given[i]); }
    }
    links.sort(function (a, b) {
      var x = LINK_ORDER.hasOwnProperty(a.kind) ? LINK_ORDER[a.kind] : 9;
      var y = LINK_ORDER.hasOwnProperty(b.kind) ? LINK_ORDER[b.kind] : 9;
      return x - y;
    });
    return links;
  }

  /*
   * The card for one deal. state: {busy: '' | 'GET' | 'POST' | 'DELIVER', data, error, notice,
   * updatedAt}; options: {supportUrl, note}. Returns a <div class="fpl__inner">.
   */
  function view(state, t, options) {
    options = options || {};
    var inner = el('div', 'fpl__inner');
    var data = state.data;
    if (data) {
      var refresh = attrs(button('fpl-refresh js-fpl-refresh' + (state.busy === 'GET' ? ' fpl-refresh_spin' : ''),
        null, !!state.busy), { title: t('lcard.refresh'), 'aria-label': t('lcard.refresh') });
      append(refresh, el('span', 'fpl-refresh__icon', '\u21bb'));
      append(inner, append(el('div', 'fpl-head'), refresh,
        row(t('lcard.partner'), data.partner && data.partner.name, 'fpl-row_partner js-fpl-partner'),
        row(t('lcard.location'), data.location && data.location.name, 'fpl-row_location js-fpl-location')));
      if (data.deal) { append(inner, dealSummary(t, data.deal)); }
      var links = sortedLinks(data);
      var box = el('div', 'fpl-links js-fpl-links');
      if (links.length) {
        for (var i = 0; i < links.length; i++) { append(box, linkCard(t, links[i], data.deal && data.deal.currency)); }
      } else {
        append(box, el('p', 'fpl-empty', t('lcard.no_links')));
      }
      append(inner, box);
    } else if (state.busy === 'GET') {
      append(inner, el('div', 'fpl-loading js-fpl-loading', t('lcard.loading')));
    }
    if (state.error) { append(inner, errorBox(t, state, !data, options.supportUrl)); }
    if (state.notice) {
      append(inner, attrs(el('div', 'fpl-alert fpl-alert_ok js-fpl-notice', state.notice), { role: 'status' }));
    }
    append(inner, busyButton(state, 'POST', 'fpl-button fpl-button_primary js-fpl-generate',
      t('lcard.generate'), t('lcard.generating')));
    if (data && data.deal && !data.deal.delivered_at && (data.links || []).length) {
      append(inner, busyButton(state, 'DELIVER', 'fpl-button fpl-button_secondary js-fpl-deliver',
        t('lcard.deliver'), t('lcard.delivering')));
    }
    var note = String(options.note || '').trim();
    if (note) { append(inner, el('p', 'fpl-note js-fpl-note', note)); }
    if (state.updatedAt) {
      append(inner, el('div', 'fpl-foot', t('lcard.updated_at', { time: clock(state.updatedAt) })));
    }
    return inner;
  }

  /* Make `target`'s children look like `source`'s, keeping every node whose kind and tag still
   * match (their attributes and text are brought up to date) and moving in only what differs.
   * A repaint therefore leaves the button under the pointer in place: a press and its release
   * land on the same element and the browser counts the click; focus stays where it was. */
  function morph(target, source) {
    var fresh = Array.prototype.slice.call(source.childNodes);
    for (var i = 0; i < fresh.length; i++) {
      var want = fresh[i];
      var have = target.childNodes[i];
      if (!have) {
        target.appendChild(want);
      } else if (have.nodeType !== want.nodeType || have.nodeName !== want.nodeName) {
        target.replaceChild(want, have);
      } else if (have.nodeType === 1) {
        syncAttributes(have, want);
        morph(have, want);
      } else if (have.nodeValue !== want.nodeValue) {
        have.nodeValue = want.nodeValue;
      }
    }
    while (target.childNodes.length > fresh.length) { target.removeChild(target.lastChild); }
    return target;
  }

  function syncAttributes(have, want) {
    var i, name;
    for (i = have.attributes.length - 1; i >= 0; i--) {
      name = have.attributes[i].name;
      if (!want.hasAttribute(name)) { have.removeAttribute(name); }
    }
    for (i = 0; i < want.attributes.length; i++) {
      name = want.attributes[i].name;
      if (have.getAttribute(name) !== want.attributes[i].value) {
        have.setAttribute(name, want.attributes[i].value);
      }
    }
  }

  /* Show `node` as `target`'s only child, by morphing (see morph). */
  function show(target, node) {
    var holder = document.createElement(target.nodeName);
    holder.appendChild(node);
    return morph(target, holder);
  }

  /* t(key, params) over a catalogue {lcard: {...}} (or the host's own lookup first). */
  function translator(catalog, first) {
    return function (key, params) {
      var value = first ? first(key) : undefined;
      if (typeof value !== 'string') { value = lookup(catalog, key.split('.')); }
      return fill(typeof value === 'string' ? value : key, params);
    };
  }

  root.FplCard = {
    view: view,
    show: show,
    el: el,
    attrs: attrs,
    append: append,
    button: button,
    copyButton: copyButton,
    copyFromButton: copyFromButton,
    describeFailure: describeFailure,
    formatMoney: formatMoney,
    clock: clock,
    lookup: lookup,
    fill: fill,
    translator: translator,
    isGoodAnswer: function (data) {
      return !!data && typeof data === 'object' && !(data.links && !Array.isArray(data.links));
    }
  };
}(this));
