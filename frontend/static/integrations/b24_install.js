/*
 * The Bitrix24 installer frame (crm_sync/install_page.py renders the page): once the platform
 * has stored the install, tell the portal it is finished (spec §1.2 A: until then placements
 * stay hidden and no event is sent). Without the portal's SDK (opened outside Bitrix24) nothing.
 */
(function () {
  'use strict';
  var root = document.querySelector('[data-install-finish]');
  if (!root || !window.BX24 || typeof window.BX24.init !== 'function') { return; }
  window.BX24.init(function () {
    if (typeof window.BX24.installFinish === 'function') { window.BX24.installFinish(); }
  });
}());
