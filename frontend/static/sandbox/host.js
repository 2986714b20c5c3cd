/*
 * The stand-in for amoCRM's widget host: the sandbox's card serves it, and the widget's browser
 * tests (tests/widget) load this same file. It loads the widget the way amoCRM does (an AMD module
 * whose constructor amoCRM instantiates and then fills with its own methods), provides the globals
 * and widget methods the widget may use (spec §4.3), and calls render → init → bind_actions.
 *
 * The page says where it runs. The sandbox's card (body data-lead, data-account, data-subdomain,
 * data-csrf) gets a fresh disposable token for each call from /sandbox/token/, minted server-side
 * for the demo account as amoCRM mints them. The test page (body data-widget-path="/widget", the
 * lead and account in the query string) mints them through the test's fplMintToken (Playwright
 * expose_function). Query string: lead, account, subdomain, lang, area, note, i18n=none, modal=1.
 */
(function ($) {
  'use strict';

  var params = new URLSearchParams(window.location.search);
  var body = document.body;
  function setting(name) { return body.getAttribute('data-' + name) || params.get(name); }

  var lang = params.get('lang') || 'ru';
  var leadId = parseInt(setting('lead') || '0', 10);
  var account = { id: parseInt(setting('account') || '0', 10), subdomain: setting('subdomain') || 'chezaquest' };
  var user = { id: 4242, name: 'Мария Петрова', login: 'maria@example.com' };
  var WIDGET_PATH = body.getAttribute('data-widget-path') || '/sandbox/widget';

  // The sandbox renders the lead's name itself; a page that takes the lead from the query names it here.
  if (!body.hasAttribute('data-lead')) {
    $('.js-lead-name').text(leadId ? 'Сделка #' + leadId : 'Новая сделка');
  }

  window.APP = window.AMOCRM = {
    lang_id: lang,
    data: { current_card: { id: leadId, model: null } },
    constant: function (name) {
      if (name === 'account') { return { id: account.id, subdomain: account.subdomain }; }
      if (name === 'user') { return user; }
      return undefined;
    },
    isCard: function () { return true; },
    getBaseEntity: function () { return 'leads'; },
    getWidgetsArea: function () { return 'leads_card'; }
  };

  // A minimal AMD `define`: the widget is the only module; its one dependency is jQuery.
  var loaded = null;
  window.define = function (deps, factory) { loaded = { deps: deps, factory: factory }; };

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var tag = document.createElement('script');
      tag.src = src;
      tag.onload = resolve;
      tag.onerror = reject;
      document.head.appendChild(tag);
    });
  }

  function mintToken() {
    if (typeof window.fplMintToken === 'function') {
      return Promise.resolve(window.fplMintToken(account.id, account.subdomain, user.id));
    }
    return fetch('/sandbox/token/', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'X-CSRFToken': body.getAttribute('data-csrf') || '' }
    }).then(function (r) {
      if (!r.ok) { throw new Error('token ' + r.status); }
      return r.json();
    }).then(function (data) { return data.token; });
  }

  function start(langs, manifest) {
    var deps = loaded.deps.map(function (name) { return name === 'jquery' ? $ : undefined; });
    var Widget = loaded.factory.apply(null, deps);
    var widget = new Widget();
    var settings = {
      widget_code: 'fpl_stand_in', id: 1, path: WIDGET_PATH, images_path: WIDGET_PATH + '/images',
      version: manifest.widget.version, status: 'installed', active: 'Y', widget_active: 'Y',
      manager_note: params.get('note') || ''
    };
    // What amoCRM injects into the widget object.
    widget.params = settings;
    widget.langs = params.get('i18n') === 'none' ? {} : langs;
    widget.get_settings = function () { return settings; };
    widget.get_version = function () { return settings.version; };
    widget.system = function () {
      return { area: params.get('area') || 'lcard', subdomain: account.subdomain, amouser_id: user.id,
        amouser: user.login, domain: 'amocrm.ru' };
    };
    widget.i18n = function (key) { return widget.langs[key]; };
    widget.render_template = function (options) {
      var $panel = $('#widgets-panel');
      var $block = $panel.find('[data-widget-code="' + settings.widget_code + '"]');
      if (!$block.length) {
        $block = $('<div class="amo-widget"><div class="amo-widget__caption"></div>' +
          '<div class="amo-widget__body"></div></div>').attr('data-widget-code', settings.widget_code);
        $block.find('.amo-widget__caption').append(
          $('<img class="amo-widget__logo" alt="">').attr('src', settings.images_path + '/logo_medium.png'));
        $panel.find('.amo-widgets__title').after($block);
      }
      $block.find('.amo-widget__caption').addClass((options.caption && options.caption.class_name) || '');
      $block.find('.amo-widget__body').html(options.body || '');
    };
    widget.$authorizedAjax = function (options) {
      var result = $.Deferred();
      mintToken().then(function (token) {
        var call = $.extend({}, options);
        call.headers = $.extend({}, options.headers, { 'X-Auth-Token': token });
        $.ajax(call)
          .done(function () { result.resolveWith(this, arguments); })
          .fail(function () { result.rejectWith(this, arguments); });
      }, function () { result.reject({ status: 0 }, 'error'); });
      return result.promise();
    };

    window.fplWidget = widget;
    if (params.get('modal')) {
      $('#settings-modal').prop('hidden', false);
      widget.callbacks.settings.call(widget, $('.js-modal-body'));
    } else if (widget.callbacks.render.call(widget)) {
      widget.callbacks.init.call(widget);
      widget.callbacks.bind_actions.call(widget);
    }
    document.body.setAttribute('data-widget-ready', '1');
  }

  Promise.all([
    fetch(WIDGET_PATH + '/i18n/' + lang + '.json').then(function (r) { return r.json(); }),
    fetch(WIDGET_PATH + '/manifest.json').then(function (r) { return r.json(); })
  ]).then(function (parts) {
    return loadScript(WIDGET_PATH + '/script.js').then(function () { start(parts[0], parts[1]); });
  }).catch(function (error) {
    document.body.setAttribute('data-widget-error', String(error));
  });
})(window.jQuery);
