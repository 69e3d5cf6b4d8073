/*
 * kefu operator console: plain browser JavaScript over the agent API (/v1/agent/…).
 * The key (agent-… or the admin key) is kept in sessionStorage only. Every
 * server-provided string is inserted as text, never as HTML.
 */
(function () {
  'use strict';

  var KEY = 'kefu.console.key';
  var LANG = 'kefu.console.lang';
  var POLL_MS = 2000;

  var I18N = {
    zh: {
      title: '客服控制台', online: '在线（接受分配）', inbox: '收件箱', tickets: '工单',
      logout: '退出', loginTitle: '登录客服控制台', keyLabel: '客服密钥或管理员密钥',
      login: '登录', filterOpen: '待处理 + 处理中', filterWaiting: '等待接入',
      filterHuman: '处理中', filterResolved: '已解决', mine: '只看我的',
      inboxEmpty: '没有等待中的会话', claim: '接入', transfer: '转接',
      resolve: '解决并交还机器人', send: '发送', replyPlaceholder: '回复顾客…',
      notePlaceholder: '内部备注（顾客看不到）', addNote: '添加内部备注', newTicket: '创建工单',
      ticketTitle: '标题', ticketDescription: '描述', create: '创建', low: '低', normal: '普通',
      high: '高', urgent: '紧急', priority: '优先级', status: '状态', createdBy: '创建人',
      queue: '退回队列', badKey: '密钥无效', waiting: '等待 {m} 分钟', trace: '追踪',
      pending_human: '等待接入', human: '处理中', resolved: '已解决', bot: '机器人',
      reason: '转人工原因', intent: '意图', slots: '槽位', sentiment: '情绪',
      summary: '摘要', customer: '顾客', botName: '机器人', ticketCreated: '工单已创建',
      open: '待处理', pending: '挂起', solved: '已解决', closed: '已关闭', langToggle: 'EN'
    },
    en: {
      title: 'Agent console', online: 'Online (take assignments)', inbox: 'Inbox',
      tickets: 'Tickets', logout: 'Log out', loginTitle: 'Sign in to the console',
      keyLabel: 'Agent key or admin key', login: 'Sign in', filterOpen: 'Waiting + in progress',
      filterWaiting: 'Waiting', filterHuman: 'In progress', filterResolved: 'Resolved',
      mine: 'Mine only', inboxEmpty: 'Nobody is waiting', claim: 'Claim', transfer: 'Transfer',
      resolve: 'Resolve (back to the bot)', send: 'Send', replyPlaceholder: 'Reply to the customer…',
      notePlaceholder: 'Internal note (the customer never sees it)', addNote: 'Add note',
      newTicket: 'New ticket', ticketTitle: 'Title', ticketDescription: 'Description',
      create: 'Create', low: 'Low', normal: 'Normal', high: 'High', urgent: 'Urgent',
      priority: 'Priority', status: 'Status', createdBy: 'Created by', queue: 'Back to the queue',
      badKey: 'Invalid key', waiting: 'waiting {m} min', trace: 'trace',
      pending_human: 'waiting', human: 'in progress', resolved: 'resolved', bot: 'bot',
      reason: 'Hand-over reason', intent: 'Intent', slots: 'Slots', sentiment: 'Sentiment',
      summary: 'Summary', customer: 'Customer', botName: 'Bot', ticketCreated: 'Ticket created',
      open: 'open', pending: 'pending', solved: 'solved', closed: 'closed', langToggle: '中文'
    }
  };

  var state = {
    lang: localStorage.getItem(LANG) || 'zh', // Chinese first; the toggle is remembered
    key: sessionStorage.getItem(KEY),
    me: null,
    selected: null,
    timer: null,
    view: 'inbox'
  };
  if (!I18N[state.lang]) state.lang = 'zh';

  function $(id) { return document.getElementById(id); }
  function t(key, vars) {
    var s = (I18N[state.lang] || I18N.zh)[key] || key;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars && k in vars ? vars[k] : ''; });
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function applyI18n() {
    document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
    document.querySelectorAll('[data-i18n]').forEach(function (n) {
      n.textContent = t(n.getAttribute('data-i18n'));
    });
    document.querySelectorAll('[data-i18n-placeholder]').forEach(function (n) {
      n.setAttribute('placeholder', t(n.getAttribute('data-i18n-placeholder')));
    });
    $('lang-toggle').textContent = t('langToggle');
  }

  async function api(method, path, body) {
    var res = await fetch(path, {
      method: method,
      headers: { 'Authorization': 'Bearer ' + state.key, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    var data = await res.json().catch(function () { return {}; });
    if (!res.ok) {
      var err = new Error(data.message || ('HTTP ' + res.status));
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function showError(err) { $('conv-error').textContent = err ? err.message : ''; }

  /* ---------------------------------------------------------------- login */

  async function login(key) {
    state.key = key;
    try {
      state.me = await api('GET', '/v1/agent/me');
    } catch (err) {
      state.key = null;
      sessionStorage.removeItem(KEY);
      $('login-error').textContent = err.status === 401 || err.status === 403 ? t('badKey') : err.message;
      return;
    }
    sessionStorage.setItem(KEY, key);
    $('login').hidden = true;
    $('desk').hidden = false;
    ['logout', 'tab-inbox', 'tab-tickets', 'online-wrap'].forEach(function (id) { $(id).hidden = false; });
    $('who').textContent = state.me.name;
    $('online').checked = !!state.me.online;
    loadAgents();
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
    var list = $('inbox');
    list.textContent = '';
    $('inbox-empty').hidden = items.length > 0;
    var now = Date.now() / 1000;
    items.forEach(function (item) {
      var li = el('li', 'inbox-item' + (item.conversation_id === state.selected ? ' selected' : ''));
      li.dataset.id = item.conversation_id;
      var top = el('div', 'line');
      top.appendChild(el('strong', '', item.user));
      top.appendChild(el('span', 'badge ' + item.handoff_state, t(item.handoff_state)));
      li.appendChild(top);
      var mid = el('div', 'line muted');
      mid.appendChild(el('span', '', item.app + (item.assigned_agent ? ' · ' + item.assigned_agent.name : '')));
      mid.appendChild(el('span', '', t('waiting', { m: Math.floor((now - (item.handoff_at || now)) / 60) })));
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

  function renderNote(note) {
    var box = $('note');
    box.textContent = '';
    if (!note) { box.hidden = true; return; }
    box.hidden = false;
    var slots = Object.keys(note.slots || {}).map(function (k) {
      var v = note.slots[k];
      return k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v);
    }).join(', ');
    [[t('reason'), note.reason_text || note.reason], [t('intent'), note.intent],
     [t('slots'), slots], [t('sentiment'), note.sentiment && note.sentiment.last],
     [t('summary'), note.llm_summary || note.summary]].forEach(function (row) {
      if (row[1]) box.appendChild(el('div', '', row[0] + '：' + row[1]));
    });
  }

  function traceText(trace) {
    var lines = ['route: ' + trace.route];
    var stages = trace.stages || [];
    stages.forEach(function (s) {
      var extra = s.intent ? ' intent=' + s.intent.label + ' (' + s.intent.confidence + ')' : '';
      lines.push(s.name + ': ' + s.duration_ms + ' ms' + extra);
    });
    if (trace.usage) lines.push('tokens: ' + JSON.stringify(trace.usage));
    lines.push('total: ' + trace.total_ms + ' ms');
    return lines.join('\n');
  }

  function renderMessage(m) {
    var box = $('messages');
    if (m.query) {
      box.appendChild(el('div', 'msg customer', m.query));
    }
    if (!m.answer) return;
    var mine = m.agent ? 'agent' : 'bot';
    var bubble = el('div', 'msg ' + mine, m.answer);
    var meta = el('div', 'meta');
    meta.appendChild(el('span', '', m.agent ? m.agent.name : t('botName') + ' · ' + m.route));
    if (m.intent) meta.appendChild(el('span', '', m.intent));
    (m.retriever_resources || []).forEach(function (r) { meta.appendChild(el('span', '', '📄 ' + r.document_name)); });
    if (m.feedback) meta.appendChild(el('span', 'rating', m.feedback.rating === 'like' ? '👍' : '👎'));
    if (!m.agent) {
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
    $('conversation').hidden = false;
    $('conv-user').textContent = c.user;
    $('conv-app').textContent = c.app;
    $('conv-state').textContent = t(c.handoff_state);
    $('conv-state').className = 'badge ' + c.handoff_state;
    $('claim').disabled = c.handoff_state !== 'pending_human';
    $('resolve').disabled = c.handoff_state !== 'pending_human' && c.handoff_state !== 'human';
    renderNote(c.handoff_note);
    var box = $('messages');
    var signature = JSON.stringify(c.messages.map(function (m) { return [m.id, m.feedback]; }));
    if (box.dataset.signature !== signature) {
      box.dataset.signature = signature;
      box.textContent = '';
      c.messages.forEach(renderMessage);
      if (scroll !== false) box.lastElementChild && box.lastElementChild.scrollIntoView();
    }
    var notes = $('notes');
    notes.textContent = '';
    c.notes.forEach(function (n) { notes.appendChild(el('li', '', n.agent.name + '：' + n.text)); });
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
    var body = $('tickets').querySelector('tbody');
    body.textContent = '';
    list.forEach(function (tk) {
      var tr = el('tr');
      tr.appendChild(el('td', '', '#' + tk.reference + ' ' + tk.title));
      tr.appendChild(el('td', '', t(tk.priority)));
      var cell = el('td');
      var select = el('select', 'ticket-status');
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
      tr.appendChild(el('td', '', tk.created_by));
      body.appendChild(tr);
    });
  }

  function showView(view) {
    state.view = view;
    $('tab-inbox').classList.toggle('active', view === 'inbox');
    $('tab-tickets').classList.toggle('active', view === 'tickets');
    document.querySelector('.inbox-pane').hidden = view !== 'inbox';
    $('conversation').hidden = view !== 'inbox' || !state.selected;
    $('tickets-pane').hidden = view !== 'tickets';
    refresh();
  }

  /* --------------------------------------------------------------- wiring */

  $('login').addEventListener('submit', function (e) {
    e.preventDefault();
    $('login-error').textContent = '';
    login($('login-key').value.trim());
  });
  $('logout').addEventListener('click', logout);
  $('lang-toggle').addEventListener('click', function () {
    state.lang = state.lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem(LANG, state.lang);
    applyI18n();
    if (state.me) { $('messages').dataset.signature = ''; refresh(); loadAgents(); }
  });
  $('online').addEventListener('change', function () {
    act(function () { return api('POST', '/v1/agent/status', { online: $('online').checked }); });
  });
  $('filter-state').addEventListener('change', refresh);
  $('filter-mine').addEventListener('change', refresh);
  $('tab-inbox').addEventListener('click', function () { showView('inbox'); });
  $('tab-tickets').addEventListener('click', function () { showView('tickets'); });
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
  if (state.key) login(state.key);
})();
