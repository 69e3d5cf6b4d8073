/*
 * kefu operator console: plain browser JavaScript over the agent API (/v1/agent/…).
 * The key (agent-… or the admin key) is kept in sessionStorage only. Every
 * server-provided string is inserted as text, never as HTML; every word of the console's
 * own comes from i18n.js, in the language the toggle chose.
 *
 * What is on screen is decided in two places only: showScreen (login card or desk) and
 * showView (inside the desk: inbox + conversation, or tickets).
 */
(function () {
  'use strict';

  var KEY = 'kefu.console.key';
  var LANG = 'kefu.console.lang';
  var POLL_MS = 2000;
  var I18N = window.KEFU_CONSOLE_I18N;

  var state = {
    lang: localStorage.getItem(LANG) || 'zh', // Chinese first; the toggle is remembered
    key: sessionStorage.getItem(KEY),
    me: null,
    selected: null,
    conversation: null, // the selected conversation as last loaded
    timer: null,
    view: 'inbox',
    admin: false, // the admin key: the analytics dashboard too
    analytics: null, // the report on screen, re-rendered when the language changes
    // What the inbox and the tickets table show, as last rendered: a poll that brings the same
    // leaves them alone (a list rebuilt every poll closes the status menu an agent has open
    // and drops the click or hover it was under)
    inboxShown: null,
    ticketsShown: null
  };
  if (!I18N[state.lang]) state.lang = 'zh';

  function $(id) { return document.getElementById(id); }
  function t(key, vars) {
    var dict = I18N[state.lang] || I18N.zh;
    var s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars && k in vars ? vars[k] : ''; });
  }
  /** A code the server sends (route, state, stage…), in words; unknown codes as they are. */
  function tCode(prefix, code) {
    var key = prefix + '_' + code;
    return Object.prototype.hasOwnProperty.call(I18N[state.lang] || I18N.zh, key) ? t(key) : code;
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  /** "label：value" in Chinese, "label: value" in English. */
  function labelled(label, value) { return label + t('colon') + value; }
  /** Give a node one of our strings; applyI18n re-renders it when the language changes. */
  function setText(node, key, vars) {
    if (!key) {
      node.removeAttribute('data-i18n');
      node.removeAttribute('data-i18n-vars');
      node.textContent = '';
      return;
    }
    node.setAttribute('data-i18n', key);
    if (vars) node.setAttribute('data-i18n-vars', JSON.stringify(vars));
    else node.removeAttribute('data-i18n-vars');
    node.textContent = t(key, vars);
  }

  function applyI18n() {
    document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('pageTitle');
    document.querySelectorAll('[data-i18n]').forEach(function (n) {
      var vars = n.getAttribute('data-i18n-vars');
      n.textContent = t(n.getAttribute('data-i18n'), vars ? JSON.parse(vars) : null);
    });
    document.querySelectorAll('[data-i18n-placeholder]').forEach(function (n) {
      n.setAttribute('placeholder', t(n.getAttribute('data-i18n-placeholder')));
    });
    document.querySelectorAll('[data-i18n-aria]').forEach(function (n) {
      n.setAttribute('aria-label', t(n.getAttribute('data-i18n-aria')));
    });
    var toggle = $('lang-toggle');
    toggle.textContent = t('langToggle');
    toggle.setAttribute('aria-label', t('langToggleLabel'));
    toggle.setAttribute('lang', state.lang === 'zh' ? 'en' : 'zh-CN');
  }

  async function api(method, path, body) {
    var res;
    try {
      res = await fetch(path, {
        method: method,
        headers: { 'Authorization': 'Bearer ' + state.key, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      });
    } catch (e) {
      var offline = new Error('network');
      offline.i18n = { key: 'networkError' };
      throw offline;
    }
    var data = await res.json().catch(function () { return {}; });
    if (!res.ok) {
      var err = new Error(data.message || ('HTTP ' + res.status));
      err.status = res.status;
      // The server's message is English; the agent reads the code's words in the UI's language.
      var key = 'error_' + (data.code || '');
      err.i18n = Object.prototype.hasOwnProperty.call(I18N.zh, key)
        ? { key: key } : { key: 'httpError', vars: { status: res.status } };
      throw err;
    }
    return data;
  }

  /** The words for an error from api(), in the UI's language. */
  function errorText(err) {
    return err.i18n || { key: 'httpError', vars: { status: err.status || 0 } };
  }

  /** Show an error (or clear it with null) on the line above the desk, whatever the view. */
  function showError(err) {
    var box = $('desk-error');
    box.hidden = !err || !state.me;
    if (!err) { setText(box, null); box.removeAttribute('title'); return; }
    setText(box, errorText(err).key, errorText(err).vars);
    box.title = err.message; // the server's own words, for whoever debugs it
  }

  /* ------------------------------------------------------------- screens */

  /** The login card, or (signed in) the desk with its header controls; never both. */
  function showScreen(screen) {
    var signedIn = screen === 'desk';
    $('login').hidden = screen !== 'login';
    $('desk').hidden = !signedIn;
    ['logout', 'tab-inbox', 'tab-tickets', 'online-wrap'].forEach(function (id) {
      $(id).hidden = !signedIn;
    });
    $('tab-analytics').hidden = !signedIn || !state.admin; // the admin key's views only
    $('tab-gaps').hidden = !signedIn || !state.admin;
    if (!signedIn) { $('who').textContent = ''; $('desk-error').hidden = true; }
    if (signedIn) showView(state.view);
  }

  /** Inside the desk: the inbox (and the open conversation), the tickets table, or (the
   *  admin) the analytics dashboard. */
  function showView(view) {
    if ((view === 'analytics' || view === 'gaps') && !state.admin) view = 'inbox';
    state.view = view;
    var inbox = view === 'inbox';
    ['inbox', 'tickets', 'analytics', 'gaps'].forEach(function (name) {
      $('tab-' + name).classList.toggle('active', view === name);
      $('tab-' + name).setAttribute('aria-pressed', String(view === name));
    });
    $('inbox-pane').hidden = !inbox;
    $('conversation').hidden = !inbox || !state.conversation;
    $('conv-placeholder').hidden = !inbox || !!state.conversation;
    $('tickets-pane').hidden = view !== 'tickets';
    $('analytics-pane').hidden = view !== 'analytics';
    $('gaps-pane').hidden = view !== 'gaps';
  }

  /* ---------------------------------------------------------------- login */

  async function login(key) {
    state.key = key;
    try {
      state.me = await api('GET', '/v1/agent/me');
    } catch (err) {
      state.key = null;
      sessionStorage.removeItem(KEY);
      var unauthorized = err.status === 401 || err.status === 403;
      if (unauthorized) setText($('login-error'), 'badKey');
      else setText($('login-error'), errorText(err).key, errorText(err).vars);
      showScreen('login');
      $('login-key').select();
      return;
    }
    sessionStorage.setItem(KEY, key);
    $('login-key').value = ''; // the key is not left on the page once it has been used
    setText($('login-error'), null);
    $('who').textContent = state.me.name;
    $('online').checked = !!state.me.online;
    state.admin = !!state.me.admin && await loadApps();
    showScreen('desk');
    loadAgents().catch(showError);
    refresh();
    state.timer = setInterval(refresh, POLL_MS);
  }

  function logout() {
    sessionStorage.removeItem(KEY);
    location.reload();
  }

  async function loadAgents() {
    var list = (await api('GET', '/v1/agent/agents')).data;
    var select = $('transfer-to');
    select.textContent = '';
    var queue = el('option', '', t('queue'));
    queue.value = '';
    select.appendChild(queue);
    list.forEach(function (a) {
      var o = el('option', '', a.name + (a.online ? ' ●' : ''));
      o.value = a.id;
      select.appendChild(o);
    });
  }

  /* ---------------------------------------------------------------- inbox */

  async function refresh() {
    try {
      if (state.view === 'analytics' || state.view === 'gaps') return; // on demand, not polled
      if (state.view === 'tickets') return await loadTickets();
      await loadInbox();
      if (state.selected) await loadConversation(state.selected, false);
    } catch (err) {
      showError(err);
    }
  }

  async function loadInbox() {
    var q = new URLSearchParams();
    if ($('filter-state').value) q.set('state', $('filter-state').value);
    if ($('filter-mine').checked) q.set('mine', 'true');
    var items = (await api('GET', '/v1/agent/inbox?' + q)).data;
    var now = Date.now() / 1000;
    var waited = items.map(function (item) { return Math.floor((now - (item.handoff_at || now)) / 60); });
    var signature = state.lang + state.selected + JSON.stringify([items, waited]);
    if (signature === state.inboxShown) return;
    state.inboxShown = signature;
    var list = $('inbox');
    list.textContent = '';
    $('inbox-empty').hidden = items.length > 0;
    items.forEach(function (item, i) {
      var li = el('li', 'inbox-item' + (item.conversation_id === state.selected ? ' selected' : ''));
      li.dataset.id = item.conversation_id;
      var top = el('div', 'line');
      top.appendChild(el('strong', '', item.user));
      top.appendChild(el('span', 'badge ' + item.handoff_state, tCode('state', item.handoff_state)));
      li.appendChild(top);
      var mid = el('div', 'line muted');
      mid.appendChild(el('span', '', item.app + (item.assigned_agent ? ' · ' + item.assigned_agent.name : '')));
      mid.appendChild(el('span', '', t('waiting', { m: waited[i] })));
      li.appendChild(mid);
      li.appendChild(el('div', 'last', item.last_query));
      li.addEventListener('click', function () { select(item.conversation_id); });
      list.appendChild(li);
    });
  }

  function select(id) {
    state.selected = id;
    showError(null);
    loadConversation(id, true).catch(showError);
    loadInbox().catch(showError);
  }

  /* --------------------------------------------------------- conversation */

  /** The reason in the UI's language: notes carry it in both ({zh, en}); older ones in one. */
  function reasonText(note) {
    var text = note.reason_text;
    if (text && typeof text === 'object') return text[state.lang] || text.zh || note.reason;
    return text || note.reason;
  }

  function renderNote(note) {
    var box = $('note');
    box.textContent = '';
    if (!note) { box.hidden = true; return; }
    box.hidden = false;
    var slots = Object.keys(note.slots || {}).map(function (k) {
      var v = note.slots[k];
      return k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v);
    }).join(t('sep'));
    var sentiment = note.sentiment && note.sentiment.last;
    var asked = (note.last_turns || []).filter(function (turn) { return turn.query; });
    [[t('reason'), reasonText(note)], [t('intent'), note.intent], [t('flow'), note.flow],
     [t('slots'), slots], [t('sentiment'), sentiment && tCode('sentiment', sentiment)],
     [t('summary'), note.llm_summary],
     [t('lastQuestion'), asked.length && asked[asked.length - 1].query]].forEach(function (row) {
      if (row[1]) box.appendChild(el('div', '', labelled(row[0], row[1])));
    });
  }

  function traceText(trace) {
    var lines = [labelled(t('traceRoute'), tCode('route', trace.route))];
    (trace.stages || []).forEach(function (s) {
      var extra = s.intent && s.intent.label
        ? ' · ' + t('traceIntent') + ' ' + s.intent.label + ' (' + s.intent.confidence + ')' : '';
      lines.push(labelled(tCode('stage', s.name), s.duration_ms + ' ms' + extra));
    });
    if (trace.usage) lines.push(labelled(t('traceTokens'), JSON.stringify(trace.usage)));
    lines.push(labelled(t('traceTotal'), trace.total_ms + ' ms'));
    return lines.join('\n');
  }

  /** An image the customer sent: an upload is fetched with the agent's key (an <img> cannot
   *  send it) and shown as a data: URL, which the page's policy allows; a link is a link. */
  function sentFile(f) {
    if (f.transfer_method === 'local_file' && f.url) {
      var img = el('img', 'sent-image');
      img.alt = f.name;
      img.title = t('sentImage');
      fetch(f.url, { headers: { 'Authorization': 'Bearer ' + state.key } })
        .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.blob(); })
        .then(function (blob) {
          var reader = new FileReader();
          reader.onload = function () { img.src = reader.result; };
          reader.readAsDataURL(blob);
        })
        .catch(function () { img.replaceWith(el('span', 'sent-missing', t('sentImageMissing'))); });
      return img;
    }
    var link = el('a', 'sent-link', t('sentImage') + ' · ' + f.name);
    if (/^https?:\/\//.test(f.url || '')) link.href = f.url;
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    return link;
  }

  function renderMessage(m, index, all) {
    var box = $('messages');
    if (m.query) {
      box.appendChild(el('div', 'msg customer', m.query));
    }
    if (m.message_files && m.message_files.length) {
      var sent = el('div', 'msg customer sent-files');
      m.message_files.forEach(function (f) { sent.appendChild(sentFile(f)); });
      box.appendChild(sent);
    }
    if (!m.answer) return;
    var mine = m.agent ? 'agent' : 'bot';
    var bubble = el('div', 'msg ' + mine, m.answer);
    var meta = el('div', 'meta');
    meta.appendChild(el('span', '', m.agent ? m.agent.name : t('botName') + ' · ' + tCode('route', m.route)));
    if (m.intent) meta.appendChild(el('span', '', m.intent));
    (m.retriever_resources || []).forEach(function (r) { meta.appendChild(el('span', 'source', r.document_name)); });
    if (m.feedback) meta.appendChild(el('span', 'rating ' + m.feedback.rating, t(m.feedback.rating === 'like' ? 'ratedLike' : 'ratedDislike')));
    if (m.agent) {
      // The agent's reply to the customer's last question: publish it as an answer.
      var asked = (all || []).slice(0, index + 1).reverse().find(function (x) { return x.query; });
      var save = el('button', 'tab save-answer', t('saveAnswer'));
      save.type = 'button';
      save.addEventListener('click', function () {
        openEditor({
          question: asked ? asked.query : '', answer: m.answer, variants: [],
          url: '/v1/agent/conversations/' + state.selected + '/save-answer'
        });
      });
      meta.appendChild(save);
    } else {
      var link = el('button', 'tab trace-toggle', t('trace'));
      link.type = 'button';
      link.addEventListener('click', async function () {
        var existing = bubble.querySelector('.trace');
        if (existing) return existing.remove();
        try {
          var trace = await api('GET', '/v1/agent/messages/' + m.id + '/trace');
          bubble.appendChild(el('div', 'trace', traceText(trace)));
        } catch (err) { showError(err); }
      });
      meta.appendChild(link);
    }
    bubble.appendChild(meta);
    box.appendChild(bubble);
  }

  async function loadConversation(id, scroll) {
    var c = await api('GET', '/v1/agent/conversations/' + id);
    if (state.selected !== id) return;
    state.conversation = c;
    showView(state.view); // shows the pane only while the inbox is the view
    $('conv-user').textContent = c.user;
    $('conv-app').textContent = c.app;
    $('conv-state').textContent = tCode('state', c.handoff_state);
    $('conv-state').className = 'badge ' + c.handoff_state;
    $('claim').disabled = c.handoff_state !== 'pending_human';
    $('resolve').disabled = c.handoff_state !== 'pending_human' && c.handoff_state !== 'human';
    renderNote(c.handoff_note);
    var box = $('messages');
    var signature = state.lang + JSON.stringify(c.messages.map(function (m) { return [m.id, m.feedback]; }));
    if (box.dataset.signature !== signature) {
      box.dataset.signature = signature;
      box.textContent = '';
      c.messages.forEach(renderMessage);
      if (scroll !== false) box.lastElementChild && box.lastElementChild.scrollIntoView();
    }
    var notes = $('notes');
    notes.textContent = '';
    c.notes.forEach(function (n) { notes.appendChild(el('li', '', labelled(n.agent.name, n.text))); });
    var tickets = $('conv-tickets');
    tickets.textContent = '';
    c.tickets.forEach(function (tk) {
      tickets.appendChild(el('li', 'ticket', '#' + tk.reference + ' ' + tk.title + ' · ' + t(tk.status)));
    });
  }

  async function act(fn) {
    showError(null);
    try {
      await fn();
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  /* -------------------------------------------------------------- tickets */

  async function loadTickets() {
    var list = (await api('GET', '/v1/agent/tickets')).data;
    var signature = state.lang + JSON.stringify(list);
    if (signature === state.ticketsShown) return;
    state.ticketsShown = signature;
    var body = $('tickets').querySelector('tbody');
    body.textContent = '';
    $('tickets-empty').hidden = list.length > 0;
    list.forEach(function (tk) {
      var tr = el('tr');
      tr.appendChild(el('td', '', '#' + tk.reference + ' ' + tk.title));
      tr.appendChild(el('td', '', t(tk.priority)));
      var cell = el('td');
      var select = el('select', 'ticket-status');
      select.setAttribute('aria-label', t('status'));
      ['open', 'pending', 'solved', 'closed'].forEach(function (s) {
        var o = el('option', '', t(s));
        o.value = s;
        o.selected = s === tk.status;
        select.appendChild(o);
      });
      select.disabled = tk.status === 'closed';
      select.addEventListener('change', function () {
        act(function () { return api('PATCH', '/v1/agent/tickets/' + tk.id, { status: select.value }); });
      });
      cell.appendChild(select);
      tr.appendChild(cell);
      tr.appendChild(el('td', '', tk.created_by === 'bot' ? t('botName') : tk.created_by));
      body.appendChild(tr);
    });
  }

  /* ------------------------------------------------------------ analytics */

  /** The apps of the dashboard's picker (the admin key only); false when they can't load. */
  async function loadApps() {
    var apps;
    try {
      apps = (await api('GET', '/admin/apps')).data;
    } catch (err) {
      return false;
    }
    ['analytics-app', 'gaps-app'].forEach(function (id) {
      var select = $(id);
      select.textContent = '';
      apps.forEach(function (a) {
        var o = el('option', '', a.name);
        o.value = a.name;
        select.appendChild(o);
      });
    });
    return true;
  }

  function analyticsQuery() {
    return '/admin/apps/' + encodeURIComponent($('analytics-app').value) + '/analytics';
  }

  /** The chosen days; none chosen: the server's default (the last 7 days in the app's
   *  time zone), which the report then fills in. */
  function analyticsParams() {
    var q = new URLSearchParams();
    if ($('analytics-from').value) q.set('from', $('analytics-from').value);
    if ($('analytics-to').value) q.set('to', $('analytics-to').value);
    return q.toString() ? '?' + q : '';
  }

  function percent(v) { return v === null || v === undefined ? '–' : Math.round(v * 1000) / 10 + '%'; }
  function number(v, digits) {
    return v === null || v === undefined ? '–' : (Math.round(v * Math.pow(10, digits || 0)) / Math.pow(10, digits || 0)).toLocaleString();
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    return seconds < 90 ? t('seconds', { n: Math.round(seconds) }) : t('minutes', { n: Math.round(seconds / 6) / 10 });
  }

  function kpi(labelKey, value, hintKey) {
    var card = el('div', 'kpi');
    var name = el('div', 'kpi-label');
    setText(name, labelKey);
    card.appendChild(name);
    card.appendChild(el('div', 'kpi-value', value));
    if (hintKey) {
      var hint = el('div', 'kpi-hint');
      setText(hint, hintKey);
      card.appendChild(hint);
    }
    return card;
  }

  async function loadAnalytics() {
    var path = analyticsQuery();
    var report;
    try {
      report = await api('GET', path + analyticsParams());
    } catch (err) {
      showError(err);
      return;
    }
    showError(null);
    $('analytics-from').value = report.from;
    $('analytics-to').value = report.to;
    state.analytics = report;
    renderAnalytics(report);
  }

  function renderAnalytics(report) {
    var total = report.total;
    setText($('analytics-tz'), 'timezone', { tz: report.timezone });
    var kpis = $('kpis');
    kpis.textContent = '';
    kpis.appendChild(kpi('conversations', number(total.conversations)));
    kpis.appendChild(kpi('containment', percent(total.containment_rate), 'containmentHint'));
    kpis.appendChild(kpi('handoffRate', percent(total.handoff_rate)));
    kpis.appendChild(kpi('fallbackRate', percent(total.fallback_rate)));
    kpis.appendChild(kpi('csat', total.csat_avg === null ? '–' : number(total.csat_avg, 2) + ' / 5'));
    kpis.appendChild(kpi('likes', number(total.likes) + ' / ' + number(total.dislikes)));
    kpis.appendChild(kpi('avgHandling', duration(total.avg_handling_s)));
    kpis.appendChild(kpi('avgWaiting', duration(total.avg_waiting_s)));
    kpis.appendChild(kpi('tokensPerConversation', number(total.tokens_per_conversation)));
    if (report.currency) {
      kpis.appendChild(kpi('costPerConversation',
        total.cost_per_conversation === null ? '–' : number(total.cost_per_conversation, 4) + ' ' + report.currency));
    }
    var days = report.days.map(function (d) { return d.day; });
    var C = window.KEFU_CHARTS;
    C.stackedBars($('chart-conversations'), days, [
      { label: t('contained'), cls: 's1', values: report.days.map(function (d) { return d.contained; }) },
      { label: t('handedOver'), cls: 's2', values: report.days.map(function (d) { return d.handed_over; }) }
    ], t('chartConversations'));
    C.rateLines($('chart-rates'), days, [
      { label: t('containment'), cls: 's1', values: report.days.map(function (d) { return d.containment_rate; }) },
      { label: t('fallbackRate'), cls: 's2', values: report.days.map(function (d) { return d.fallback_rate; }) }
    ], t('chartRates'));
    C.barList($('chart-reasons'), report.handoff_reasons.map(function (r) {
      return { label: tCode('reason', r.reason), value: r.count };
    }), t('chartReasons'), t('nothingYet'));
    C.barList($('chart-intents'), report.top_intents.map(function (r) {
      return { label: r.intent, value: r.count };
    }), t('chartIntents'), t('nothingYet'));
    var agents = $('analytics-agents').querySelector('tbody');
    agents.textContent = '';
    report.agents.forEach(function (a) {
      var tr = el('tr');
      tr.appendChild(el('td', '', a.name));
      tr.appendChild(el('td', '', number(a.handled)));
      tr.appendChild(el('td', '', duration(a.avg_handling_s)));
      tr.appendChild(el('td', '', a.csat_avg === null ? '–' : number(a.csat_avg, 2) + ' (' + a.csat_count + ')'));
      agents.appendChild(tr);
    });
    var unanswered = $('analytics-unanswered').querySelector('tbody');
    unanswered.textContent = '';
    report.unanswered.forEach(function (g) {
      var tr = el('tr');
      var q = el('td', '', g.question);
      if (g.examples.length) q.title = g.examples.join('\n');
      tr.appendChild(q);
      tr.appendChild(el('td', '', number(g.count)));
      unanswered.appendChild(tr);
    });
    var offers = $('analytics-proactive').querySelector('tbody');
    offers.textContent = '';
    var proactive = report.proactive || { rules: [], total: null };
    var offerRows = proactive.rules.slice();
    if (offerRows.length > 1) offerRows.push(proactive.total);
    offerRows.forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('td', '', r.rule === 'total' && r === proactive.total ? t('offerTotal') : r.rule));
      tr.appendChild(el('td', '', number(r.shown)));
      tr.appendChild(el('td', '', number(r.accepted)));
      tr.appendChild(el('td', '', number(r.dismissed)));
      tr.appendChild(el('td', '', percent(r.acceptance_rate)));
      offers.appendChild(tr);
    });
  }

  /** The CSV needs the key in a header, so it is fetched and handed over as a file. */
  async function downloadCsv() {
    var path = analyticsQuery() + '.csv' + analyticsParams();
    try {
      var res = await fetch(path, { headers: { 'Authorization': 'Bearer ' + state.key } });
      if (!res.ok) throw Object.assign(new Error('HTTP ' + res.status), { status: res.status });
      var blob = await res.blob();
      var link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      var named = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
      link.download = named ? named[1] : 'kefu-analytics.csv';
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    } catch (err) {
      showError(err);
    }
  }

  /* ------------------------------------------------------- knowledge loop */

  function gapsUrl(rest) {
    return '/admin/apps/' + encodeURIComponent($('gaps-app').value) + '/knowledge-gaps' + (rest || '');
  }

  async function loadGaps() {
    var report;
    try {
      report = await api('GET', gapsUrl('?days=30&limit=50'));
    } catch (err) { showError(err); return; }
    showError(null);
    setText($('gaps-count'), 'gapsCount', { n: report.questions, g: report.data.length });
    var list = $('gaps');
    list.textContent = '';
    $('gaps-empty').hidden = report.data.length > 0;
    report.data.forEach(function (g) {
      var li = el('li', 'gap');
      var head = el('div', 'line');
      head.appendChild(el('strong', 'gap-question', g.question));
      var badges = el('span', 'gap-badges');
      badges.appendChild(el('span', 'badge', t('timesAsked', { n: g.count })));
      if (g.disliked) badges.appendChild(el('span', 'badge disliked', t('dislikedN', { n: g.disliked })));
      head.appendChild(badges);
      li.appendChild(head);
      if (g.examples.length) li.appendChild(el('div', 'muted gap-examples', g.examples.join(' · ')));
      var draft = el('button', 'btn gap-draft', t('draftAnswer'));
      draft.type = 'button';
      draft.addEventListener('click', async function () {
        draft.disabled = true;
        try {
          var d = await api('POST', gapsUrl('/draft'), { question: g.question });
          openEditor({
            question: g.question, answer: d.draft, variants: g.examples,
            url: gapsUrl('/promote'), draft: d
          });
        } catch (err) { showError(err); } finally { draft.disabled = false; }
      });
      li.appendChild(draft);
      list.appendChild(li);
    });
  }

  /** The one answer editor, for a gap group (admin) or an agent's reply. */
  function openEditor(what) {
    state.editing = what;
    $('editor-question').value = what.question;
    $('editor-variants').value = (what.variants || []).join('\n');
    $('editor-answer').value = what.answer || '';
    $('editor-kind').value = 'faq';
    setText($('editor-error'), null);
    var d = what.draft;
    if (d) setText($('editor-source'), 'draft_' + d.kind, { sources: d.sources.join(t('sep')) });
    else setText($('editor-source'), null);
    $('answer-editor').showModal();
    $('editor-answer').focus();
  }

  async function publish() {
    var what = state.editing;
    var variants = $('editor-variants').value.split('\n').map(function (v) { return v.trim(); })
      .filter(Boolean);
    try {
      var done = await api('POST', what.url, {
        question: $('editor-question').value.trim(), answer: $('editor-answer').value.trim(),
        variants: variants, as: $('editor-kind').value
      });
      $('answer-editor').close();
      var notice = $('loop-notice');
      setText(notice, 'published', { n: done.now_answered });
      notice.hidden = false;
      clearTimeout(state.noticeTimer);
      state.noticeTimer = setTimeout(function () { notice.hidden = true; }, 10000);
      if (state.view === 'gaps') loadGaps();
      else showError(null);
    } catch (err) {
      setText($('editor-error'), errorText(err).key, errorText(err).vars);
    }
  }

  /* --------------------------------------------------------------- wiring */

  $('login').addEventListener('submit', function (e) {
    e.preventDefault();
    setText($('login-error'), null);
    login($('login-key').value.trim());
  });
  $('logout').addEventListener('click', logout);
  $('lang-toggle').addEventListener('click', function () {
    state.lang = state.lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem(LANG, state.lang);
    applyI18n();
    if (state.me) { refresh(); loadAgents().catch(showError); }
    if (state.analytics) renderAnalytics(state.analytics);
  });
  $('online').addEventListener('change', function () {
    act(function () { return api('POST', '/v1/agent/status', { online: $('online').checked }); });
  });
  $('filter-state').addEventListener('change', refresh);
  $('filter-mine').addEventListener('change', refresh);
  $('tab-inbox').addEventListener('click', function () { showView('inbox'); refresh(); });
  $('tab-tickets').addEventListener('click', function () { showView('tickets'); refresh(); });
  $('tab-analytics').addEventListener('click', function () { showView('analytics'); loadAnalytics(); });
  $('analytics-form').addEventListener('submit', function (e) { e.preventDefault(); loadAnalytics(); });
  $('analytics-csv').addEventListener('click', downloadCsv);
  $('tab-gaps').addEventListener('click', function () { showView('gaps'); loadGaps(); });
  $('gaps-form').addEventListener('submit', function (e) { e.preventDefault(); loadGaps(); });
  $('editor-form').addEventListener('submit', function (e) { e.preventDefault(); publish(); });
  $('editor-cancel').addEventListener('click', function () { $('answer-editor').close(); });
  $('claim').addEventListener('click', function () {
    act(function () { return api('POST', '/v1/agent/conversations/' + state.selected + '/claim'); });
  });
  $('resolve').addEventListener('click', function () {
    act(function () { return api('POST', '/v1/agent/conversations/' + state.selected + '/resolve'); });
  });
  $('transfer').addEventListener('click', function () {
    var to = $('transfer-to').value || null;
    act(function () {
      return api('POST', '/v1/agent/conversations/' + state.selected + '/transfer', { agent_id: to });
    });
  });
  $('reply-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('reply-input').value.trim();
    if (!text) return;
    act(async function () {
      await api('POST', '/v1/agent/conversations/' + state.selected + '/reply', { text: text });
      $('reply-input').value = '';
    });
  });
  $('reply-input').addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('reply-form').requestSubmit();
    }
  });
  $('note-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('note-input').value.trim();
    if (!text) return;
    act(async function () {
      await api('POST', '/v1/agent/conversations/' + state.selected + '/notes', { text: text });
      $('note-input').value = '';
    });
  });
  $('ticket-form').addEventListener('submit', function (e) {
    e.preventDefault();
    act(async function () {
      await api('POST', '/v1/agent/tickets', {
        conversation_id: state.selected,
        title: $('ticket-title').value,
        priority: $('ticket-priority').value,
        description: $('ticket-description').value
      });
      $('ticket-title').value = '';
      $('ticket-description').value = '';
    });
  });

  applyI18n();
  if (state.key) {
    showScreen('checking'); // a remembered key: no login card while it is checked
    login(state.key);
  } else {
    showScreen('login');
  }
})();
