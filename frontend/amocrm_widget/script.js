/*
 * amoCRM widget «Ссылки на оплату»: the lead card's right panel shows the deal's partner, location
 * and its two payment links (prepayment and full), and a button that makes the platform generate
 * them. Structure per shared/specs/amocrm.md §4.3; the backend calls are CONTRACT.md «Widget API».
 *
 * Every call goes through self.$authorizedAjax, which adds amoCRM's disposable token: the widget
 * never sees, stores or forwards a token itself. Only a small standard subset of jQuery is used
 * (selectors, .on/.off delegation, .text/.attr/.prop/.append, $.Deferred) so any jQuery amoCRM
 * ships will do.
 */
define(['jquery'], function ($) {
  'use strict';

  // Written by build.py from PLATFORM_BASE_URL: the only host this widget talks to.
  var BASE_URL = '__PLATFORM_BASE_URL__';
  // i18n/ru.json, inlined by build.py: the Russian fallback when amoCRM's i18n lacks a key.
  var FALLBACK = /*__I18N_RU__*/{};
  // frontend/static/card/card.js, inlined by build.py: the card's view, shared with Bitrix24's tab.
  var FplCard = /*__FPL_CARD__*/null;

  var NS = '.fplinks';
  var ROOT = '.js-fpl-root';
  var REQUEST_TIMEOUT_MS = 20000;

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

  function twoDigits(n) { return (n < 10 ? '0' : '') + n; }

  function el(tag, className, text) {
    var $node = $(document.createElement(tag));
    if (className) { $node.attr('class', className); }
    if (text !== undefined && text !== null) { $node.text(text); }
    return $node;
  }

  var PaymentLinksWidget = function () {
    var self = this;
    var state = {
      seq: 0,          // bumps on every request; a late answer for an older one is dropped
      busy: '',        // '', 'GET' or 'POST'
      data: null,      // the last good answer
      error: null,     // {message, support}
      connect: null,   // {account}: the account is not bound to a network yet
      claim: null,     // {busy, code, expiresAt, error}: the single-use code that binds it
      claimSeq: 0,     // the same guard as `seq`, for the claim-code request
      notice: '',
      bindOpen: false,
      updatedAt: null
    };

    function t(key, params) {
      var parts = key.split('.');
      var value;
      if (typeof self.i18n === 'function') {
        try { value = lookup(self.i18n(parts[0]), parts.slice(1)); } catch (e) { value = undefined; }
      }
      if (typeof value !== 'string') { value = lookup(FALLBACK, parts); }
      return fill(typeof value === 'string' ? value : key, params);
    }

    function amo() { return window.APP || window.AMOCRM || null; }

    function system() {
      try { return (typeof self.system === 'function' && self.system()) || {}; } catch (e) { return {}; }
    }

    function widgetSettings() {
      try {
        return (typeof self.get_settings === 'function' && self.get_settings()) || self.params || {};
      } catch (e) { return self.params || {}; }
    }

    function account() {
      var env = amo();
      var acc = {};
      try { acc = (env && typeof env.constant === 'function' && env.constant('account')) || {}; } catch (e) { acc = {}; }
      return { id: acc.id || system().account_id || '', subdomain: acc.subdomain || system().subdomain || '' };
    }

    function currentLeadId() {
      var env = amo();
      var card = env && env.data && env.data.current_card;
      var id = card ? parseInt(card.id, 10) : 0;
      return id > 0 ? id : 0;  // 0 = a new, unsaved deal
    }

    function inLeadCard() {
      var area = system().area;
      if (area) { return area === 'lcard'; }
      var env = amo();
      try { return !!(env && env.isCard() && env.getBaseEntity() === 'leads'); } catch (e) { return false; }
    }

    function linksUrl(leadId) {
      return BASE_URL + '/api/widget/v1/leads/' + encodeURIComponent(leadId) + '/links';
    }

    function deliveredUrl(leadId) {
      return BASE_URL + '/api/widget/v1/leads/' + encodeURIComponent(leadId) + '/delivered';
    }

    function signupUrl(acc, code) {
      return BASE_URL + '/signup/?amocrm_account=' + encodeURIComponent(acc.id) +
        '&subdomain=' + encodeURIComponent(acc.subdomain) +
        (code ? '&claim=' + encodeURIComponent(code) : '');
    }

    function claimCodeUrl() {
      return BASE_URL + '/api/widget/v1/claim-code';
    }

    function loadStylesheet() {
      var s = widgetSettings();
      if (!s.path || $('link[data-fpl-css]').length) { return; }
      $('head').append($('<link rel="stylesheet" type="text/css" data-fpl-css="1">')
        .attr('href', s.path + '/style.css?v=' + encodeURIComponent(s.version || '')));
    }

    /* ------------------------------------------------------------------------- requests */

    function parseBody(xhr) {
      if (!xhr) { return null; }
      if (xhr.responseJSON && typeof xhr.responseJSON === 'object') { return xhr.responseJSON; }
      try {
        var body = JSON.parse(xhr.responseText);
        return body && typeof body === 'object' ? body : null;
      } catch (e) { return null; }
    }

    function describeFailure(xhr, textStatus) {
      var retryAfter = xhr && typeof xhr.getResponseHeader === 'function' ? xhr.getResponseHeader('Retry-After') : null;
      return FplCard.describeFailure(t, (xhr && xhr.status) || 0, parseBody(xhr), textStatus, retryAfter);
    }

    // method: GET (read), POST (generate) or DELIVER («Услуга оказана», a POST of its own).
    function request(method) {
      var leadId = currentLeadId();
      if (!leadId || state.busy === 'POST' || state.busy === 'DELIVER') { return; }
      var seq = ++state.seq;
      state.busy = method;
      state.notice = '';
      paint();

      var deliver = method === 'DELIVER';
      authorized(deliver ? 'POST' : method, deliver ? deliveredUrl(leadId) : linksUrl(leadId)).done(function (data) {
        if (seq !== state.seq) { return; }
        if (!FplCard.isGoodAnswer(data)) {
          state.error = { message: t('lcard.errors.bad_answer'), support: true };
          return;
        }
        state.data = data;
        state.error = null;
        state.connect = null;
        state.updatedAt = new Date();
        state.notice = method === 'POST' ? t('lcard.generated') : (deliver ? t('lcard.delivered_done') : '');
      }).fail(function (xhr, textStatus) {
        if (seq !== state.seq) { return; }
        var failure = describeFailure(xhr, textStatus);
        if (failure.connect) {
          var first = !state.connect;
          state.connect = { account: account() };
          state.data = null;
          state.error = null;
          if (first || !claimFresh()) { requestClaimCode(); }
        } else {
          state.error = failure;
        }
      }).always(function () {
        if (seq !== state.seq) { return; }
        state.busy = '';
        paint();
      });
    }

    /* Every backend call goes through amoCRM's $authorizedAjax (it adds the disposable token). */
    function authorized(method, url) {
      var options = { url: url, method: method, type: method, dataType: 'json',
        timeout: REQUEST_TIMEOUT_MS, cache: false };
      if (method === 'POST') {
        options.contentType = 'application/json';
        options.data = '{}';
      }
      var call;
      try {
        call = self.$authorizedAjax(options);
      } catch (e) {
        call = $.Deferred().reject({ status: 0 }, 'error').promise();
      }
      if (!call || typeof call.done !== 'function') {  // a bare thenable: adapt it to a Deferred
        var adapted = $.Deferred();
        if (call && typeof call.then === 'function') {
          call.then(function (data) { adapted.resolve(data); },
            function (xhr) { adapted.reject(xhr || { status: 0 }, 'error'); });
        } else {
          adapted.reject({ status: 0 }, 'error');
        }
        call = adapted.promise();
      }
      return call;
    }

    /* A code on screen that still has a minute to live (the server renews it after that). */
    function claimFresh() {
      var claim = state.claim;
      if (!claim || !claim.code) { return false; }
      return !claim.expiresAt || claim.expiresAt.getTime() - Date.now() > 60000;
    }

    /* The single-use code that binds this account to a network (asked for only while unbound). */
    function requestClaimCode() {
      if (state.claim && state.claim.busy) { return; }
      var seq = ++state.claimSeq;
      state.claim = { busy: true, code: '', expiresAt: null, error: '' };
      paint();
      authorized('POST', claimCodeUrl()).done(function (data) {
        if (seq !== state.claimSeq) { return; }
        var code = data && typeof data.code === 'string' && /^[A-Z0-9-]{4,12}$/.test(data.code) ? data.code : '';
        var expires = data && data.expires_at ? new Date(data.expires_at) : null;
        state.claim = code
          ? { busy: false, code: code, expiresAt: expires && !isNaN(expires.getTime()) ? expires : null, error: '' }
          : { busy: false, code: '', expiresAt: null, error: t('lcard.errors.bad_answer') };
      }).fail(function (xhr, textStatus) {
        if (seq !== state.claimSeq) { return; }
        var body = parseBody(xhr) || {};
        if (xhr && xhr.status === 409 && body.code === 'account_already_bound') {
          state.claim = null;
          request('GET');  // bound meanwhile: show the links
          return;
        }
        state.claim = { busy: false, code: '', expiresAt: null, error: describeFailure(xhr, textStatus).message };
      }).always(function () {
        if (seq !== state.claimSeq) { return; }
        paint();
      });
    }

    /* ------------------------------------------------------------------------- view */

    function claimBox() {
      var claim = state.claim || { busy: true };
      var $box = el('div', 'fpl-code js-fpl-claim');
      if (claim.code) {
        $box.append(el('span', 'fpl-code__value js-fpl-claim-code', claim.code))
          .append(FplCard.copyButton(t, claim.code));
        if (claim.expiresAt) {
          var d = claim.expiresAt;
          $box.append(el('span', 'fpl-code__expires js-fpl-claim-expires',
            t('lcard.connect.code_expires', { time: twoDigits(d.getHours()) + ':' + twoDigits(d.getMinutes()) })));
        }
      } else if (claim.busy) {
        $box.append(el('span', 'fpl-loading js-fpl-claim-loading', t('lcard.connect.code_loading')));
      } else {
        $box.addClass('fpl-code_error')
          .append(el('span', 'fpl-code__error js-fpl-claim-error', claim.error || t('lcard.errors.bad_answer')))
          .append(el('button', 'fpl-textbutton js-fpl-claim-retry', t('lcard.connect.code_retry'))
            .attr('type', 'button'));
      }
      return $box;
    }

    function connectView(acc) {
      var code = state.claim && state.claim.code;
      var $box = el('div', 'fpl-connect js-fpl-connect');
      $box.append(el('div', 'fpl-connect__title', t('lcard.connect.title')));
      $box.append(el('p', 'fpl-connect__text',
        t('lcard.connect.text', { subdomain: acc.subdomain || acc.id })));
      $box.append(el('a', 'fpl-button fpl-button_primary fpl-connect__signup js-fpl-signup', t('lcard.connect.signup'))
        .attr({ href: signupUrl(acc, code), target: '_blank', rel: 'noopener noreferrer' }));
      $box.append(el('p', 'fpl-connect__hint',
        t(code ? 'lcard.connect.signup_hint' : 'lcard.connect.signup_hint_no_code')));
      $box.append(el('button', 'fpl-button fpl-button_secondary js-fpl-bind-toggle', t('lcard.connect.bind'))
        .attr({ type: 'button', 'aria-expanded': state.bindOpen ? 'true' : 'false' }));
      var $steps = el('ol', 'fpl-connect__steps js-fpl-bind-steps');
      if (!state.bindOpen) { $steps.attr('hidden', 'hidden'); }
      $steps.append(el('li', '', t('lcard.connect.bind_step_1')));
      $steps.append(el('li', '', t('lcard.connect.bind_step_2')));
      $steps.append(el('li', '', t('lcard.connect.bind_step_3')).append(claimBox()));
      $box.append($steps);
      $box.append(el('button', 'fpl-textbutton js-fpl-refresh', t('lcard.connect.retry'))
        .attr('type', 'button').prop('disabled', !!state.busy));
      return $box;
    }

    function paint() {
      var $root = $(ROOT);
      if (!$root.length) { return; }
      var $view = el('div', 'fpl__inner');
      var leadId = currentLeadId();

      // Shown by morphing (FplCard.show): a repaint keeps the buttons under the pointer.
      if (!leadId) {
        $view.append(el('p', 'fpl-empty', t('lcard.new_lead')));
        FplCard.show($root[0], $view[0]);
        return;
      }
      if (state.connect) {
        FplCard.show($root[0], $view.append(connectView(state.connect.account))[0]);
        return;
      }

      FplCard.show($root[0], FplCard.view(state, t, {
        supportUrl: BASE_URL + '/',
        note: widgetSettings().manager_note
      }));
    }

    /* ------------------------------------------------------------------------- handlers */

    function onGenerate(e) {
      e.preventDefault();
      request('POST');
    }

    function onDeliver(e) {
      e.preventDefault();
      request('DELIVER');
    }

    function onRefresh(e) {
      e.preventDefault();
      request('GET');
    }

    function onClaimRetry(e) {
      e.preventDefault();
      state.claim = null;
      requestClaimCode();
    }

    function onBindToggle(e) {
      e.preventDefault();
      state.bindOpen = !state.bindOpen;
      paint();
    }

    function onCopy(e) {
      e.preventDefault();
      FplCard.copyFromButton(this, t);
    }

    this.callbacks = {
      render: function () {
        if (!inLeadCard()) { return true; }
        loadStylesheet();
        state.data = null;
        state.error = null;
        state.connect = null;
        state.claim = null;
        state.notice = '';
        state.updatedAt = null;
        self.render_template({
          caption: { class_name: 'fpl-caption' },
          body: '<div class="fpl js-fpl-root"></div>',
          render: ''
        });
        if (currentLeadId()) { request('GET'); } else { paint(); }
        return true;
      },
      init: function () { return true; },
      bind_actions: function () {
        // Delegated and namespaced: cards are SPA views and render can run again (spec §7.17).
        $(document).off(NS)
          .on('click' + NS, ROOT + ' .js-fpl-generate', onGenerate)
          .on('click' + NS, ROOT + ' .js-fpl-refresh', onRefresh)
          .on('click' + NS, ROOT + ' .js-fpl-deliver', onDeliver)
          .on('click' + NS, ROOT + ' .js-fpl-bind-toggle', onBindToggle)
          .on('click' + NS, ROOT + ' .js-fpl-claim-retry', onClaimRetry)
          .on('click' + NS, ROOT + ' .js-fpl-copy', onCopy);
        return true;
      },
      settings: function ($modal_body) {
        loadStylesheet();
        var acc = account();
        var $info = el('div', 'fpl fpl-settings')
          .append(el('p', 'fpl-settings__text', t('settings_modal.about', { service: BASE_URL.replace(/^https?:\/\//, '') })));
        if (acc.id) {
          $info.append(el('p', 'fpl-settings__text', t('settings_modal.claim_hint')));
          $info.append(el('a', 'fpl-settings__link', t('settings_modal.signup'))
            .attr({ href: signupUrl(acc), target: '_blank', rel: 'noopener noreferrer' }));
        }
        if ($modal_body && typeof $modal_body.find === 'function') {
          $modal_body.find('.fpl-settings').remove();
          $modal_body.append($info);
        }
        return true;
      },
      onSave: function () { return true; },
      destroy: function () {
        state.seq++;
        state.claimSeq++;
        $(document).off(NS);
        $(ROOT).remove();
      }
    };
    return this;
  };

  return PaymentLinksWidget;
});
