/*
 * The sandbox card's left side follows the stand-in CRM's lead (what the platform's outbox wrote
 * into it: the two links, the paid sum, the status, the notes), polled every 2 s. When the paid
 * sum or status changes, the widget is refreshed too, as a manager would press «Обновить».
 */
(function ($) {
  'use strict';

  var leadId = parseInt(document.body.getAttribute('data-lead') || '0', 10);
  if (!leadId) { return; }
  var last = null;

  function link(url) {
    return url ? $('<a target="_blank" rel="noopener"></a>').attr('href', url).text(url) : '…';
  }

  function show(lead) {
    $('.js-crm-prepayment').empty().append(link(lead.prepayment_url));
    $('.js-crm-full').empty().append(link(lead.full_url));
    $('.js-crm-paid').text(lead.paid_sum === null ? '—' : lead.paid_sum + ' ₽');
    $('.js-crm-status').text(lead.status || '—');
    var $notes = $('.js-crm-notes').empty();
    $notes.append($('<div class="amo-feed__item"></div>').text('Сделка создана'));
    lead.notes.forEach(function (text) {
      $notes.append($('<div class="amo-feed__item amo-feed__item_note"></div>').text(text));
    });
    var key = String(lead.paid_sum) + '|' + String(lead.status);
    if (last !== null && key !== last) {
      $('.js-fpl-refresh').first().trigger('click');
    }
    last = key;
    document.body.setAttribute('data-crm-status', lead.status || '');
  }

  function poll() {
    $.ajax({ url: '/sandbox/leads/' + leadId + '.json', dataType: 'json', cache: false })
      .done(show)
      .always(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})(window.jQuery);
