/*
 * kefu embeddable chat widget.
 *
 *   <script src="https://kefu.example/widget.js" data-app="demo-shop" async></script>
 *   optional: data-lang="zh|en"
 *
 * Plain browser JavaScript, no build step, no dependencies. Everything it draws lives in one
 * <kefu-widget> element with a shadow root (the page's CSS cannot reach in, the widget's
 * cannot leak out); the only global is `window.kefu` (open, close, setLanguage, track,
 * status). It talks to the kefu server that served this file:
 *   GET  /web/config?app=A                       -> title, language, opening statement, theme
 *   POST /web/session (Bearer: previous token)    -> a signed session for this visitor
 *   GET  /v1/parameters                           -> suggested questions
 *   POST /v1/chat-messages (streaming, SSE)       -> answer chunks, sources
 *   POST /v1/chat-messages/{task_id}/stop         -> stop generation
 *   POST /v1/messages/{id}/feedbacks              -> like / dislike
 *   GET  /v1/messages?conversation_id=C           -> the conversation after a reload
 *   GET  /v1/conversations/{id}/events (SSE)      -> hand-over state, agent replies
 *   POST /v1/conversations/{id}/csat              -> rate the agent after a hand-over
 *   POST /web/events, /web/offers/{id}/accept|dismiss, /web/events/opt-out
 *                                                 -> proactive offers (docs/proactive.md;
 *                                                    a 404: not served, quietly off)
 * Every server-provided string is inserted as text, never as HTML.
 */
(function () {
  'use strict';

  if (typeof window === 'undefined' || typeof document === 'undefined') return;
  if (window.kefu && window.kefu.widget) return; // the snippet pasted twice

  var CSS = /*KEFU_WIDGET_CSS*/ '';
  var VERSION = '1';
  var MAX_LEN = 4000;
  var STOP_GRACE_MS = 2000;
  var HISTORY_LIMIT = 50;
  var LIVE_RETRY_MIN_MS = 1000;
  var LIVE_RETRY_MAX_MS = 30000;
  var CONFIG_RETRIES = [2000, 6000, 15000];
  var SVG_NS = 'http://www.w3.org/2000/svg';

  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-app]') ||
    document.querySelector('script[src*="widget.js"]');
  var ORIGIN = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var APP = (script && script.getAttribute('data-app')) || '';
  var DATA_LANG = script ? script.getAttribute('data-lang') : null;
  // Scoped to the kefu server and app: two widgets (or two kefu servers) on one site keep
  // their visitors apart.
  var STORE_KEY = 'kefu.widget:' + ORIGIN + ':' + (APP || '-');

  /* ------------------------------------------------------------------ */
  /* strings                                                             */
  /* ------------------------------------------------------------------ */

  var I18N = {
    zh: {
      launcher: '在线客服',
      openLabel: '打开客服对话',
      closeLabel: '关闭对话',
      unread: '有新消息',
      defaultTitle: '在线客服',
      subtitle: 'AI 智能客服',
      newChat: '开始新对话',
      langToggle: 'EN',
      langToggleLabel: 'Switch to English',
      messagesLabel: '对话消息',
      inputLabel: '输入您的问题',
      placeholder: '输入您的问题…',
      send: '发送',
      stop: '停止',
      greeting: '您好！请问有什么可以帮您？',
      suggestions: '猜你想问',
      youSaid: '您：',
      botSaid: '客服：',
      sources: '来源',
      untitled: '未命名文档',
      feedbackGroup: '这个回答有帮助吗？',
      helpful: '有帮助',
      notHelpful: '没帮助',
      feedbackThanks: '感谢反馈',
      feedbackCleared: '已取消评价',
      stopped: '已停止生成',
      interrupted: '连接中断，回复可能不完整',
      emptyAnswer: '（没有回复内容）',
      handoffPending: '正在为您转接人工客服…',
      handoffHuman: '人工客服 {name} 为您服务',
      handoffHumanAnon: '人工客服为您服务',
      agent: '人工客服',
      csatQuestion: '请为本次人工服务打分（1-5 分）',
      csatScores: '评分（1-5 分）',
      csatComment: '意见或建议（选填）',
      csatSubmit: '提交评价',
      csatThanks: '感谢您的评价！',
      offerAccept: '聊一聊',
      offerClose: '关闭提示',
      offerOptOut: '不再提示',
      networkError: '网络错误，请检查网络后重试',
      error_too_many_requests: '请求太频繁，请稍后再试',
      error_not_found: '对话不存在或已删除，请开始新对话',
      error_unauthorized: '会话已过期，请刷新页面后重试',
      error_forbidden: '没有权限访问此对话',
      error_invalid_param: '请求有误，请检查输入后重试',
      error_conflict: '对话状态已变化，请稍后再试',
      error_unavailable: '服务暂时不可用，请稍后再试',
      httpError: '请求失败（HTTP {status}）'
    },
    en: {
      launcher: 'Chat with us',
      openLabel: 'Open the chat',
      closeLabel: 'Close the chat',
      unread: 'New message',
      defaultTitle: 'Customer Service',
      subtitle: 'AI customer service',
      newChat: 'Start a new conversation',
      langToggle: '中文',
      langToggleLabel: '切换到中文',
      messagesLabel: 'Conversation',
      inputLabel: 'Type your question',
      placeholder: 'Type your question…',
      send: 'Send',
      stop: 'Stop',
      greeting: 'Hello! How can I help you today?',
      suggestions: 'Suggested questions',
      youSaid: 'You:',
      botSaid: 'Assistant:',
      sources: 'Sources',
      untitled: 'Untitled document',
      feedbackGroup: 'Was this answer helpful?',
      helpful: 'Helpful',
      notHelpful: 'Not helpful',
      feedbackThanks: 'Thanks for your feedback',
      feedbackCleared: 'Rating removed',
      stopped: 'Stopped',
      interrupted: 'Connection lost; the answer may be incomplete',
      emptyAnswer: '(no answer)',
      handoffPending: 'Connecting you to a human agent…',
      handoffHuman: 'You\'re chatting with {name}',
      handoffHumanAnon: 'You\'re chatting with a human agent',
      agent: 'Agent',
      csatQuestion: 'Please rate the agent (1-5)',
      csatScores: 'Rating (1-5)',
      csatComment: 'Comments (optional)',
      csatSubmit: 'Submit rating',
      csatThanks: 'Thank you for your rating!',
      offerAccept: 'Chat now',
      offerClose: 'Close this offer',
      offerOptOut: 'Don\'t show again',
      networkError: 'Network error. Please check your connection and try again.',
      error_too_many_requests: 'Too many requests. Please wait a moment and try again.',
      error_not_found: 'This conversation no longer exists. Please start a new one.',
      error_unauthorized: 'Your session has expired. Please reload the page and try again.',
      error_forbidden: 'You do not have access to this conversation.',
      error_invalid_param: 'The request was not valid. Please check your message and try again.',
      error_conflict: 'The conversation changed. Please try again.',
      error_unavailable: 'The service is temporarily unavailable. Please try again later.',
      httpError: 'Request failed (HTTP {status})'
    }
  };

  function normLang(s) {
    if (typeof s !== 'string') return null;
    s = s.toLowerCase();
    if (s.indexOf('zh') === 0) return 'zh';
    if (s.indexOf('en') === 0) return 'en';
    return null;
  }

  function has(obj, key) {
    return !!obj && Object.prototype.hasOwnProperty.call(obj, key);
  }

  function t(key, vars) {
    var dict = I18N[state.lang] || I18N.zh;
    var s = has(dict, key) ? dict[key] : (has(I18N.zh, key) ? I18N.zh[key] : key);
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (all, name) {
        return has(vars, name) ? String(vars[name]) : all;
      });
    }
    return s;
  }

  /* ------------------------------------------------------------------ */
  /* state, kept across reloads                                          */
  /* ------------------------------------------------------------------ */

  function loadSaved() {
    try {
      var raw = window.localStorage.getItem(STORE_KEY);
      var saved = raw ? JSON.parse(raw) : null;
      return saved && typeof saved === 'object' ? saved : {};
    } catch (e) {
      return {};
    }
  }

  var saved = loadSaved();

  function save() {
    var data = {
      token: state.token || null,
      conversationId: state.conversationId || null,
      open: state.open,
      lang: state.langExplicit ? state.lang : null,
      handoff: state.handoff,
      csat: state.csatPending,
      optedOut: state.optedOut
    };
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify(data));
    } catch (e) {
      /* storage disabled: the widget works for this page view */
    }
  }

  var state = {
    status: 'loading', // loading | ready | unavailable
    lang: 'zh',
    langExplicit: false,
    config: null,
    token: typeof saved.token === 'string' ? saved.token : '',
    user: '',
    renewTimer: null,
    conversationId: typeof saved.conversationId === 'string' ? saved.conversationId : '',
    open: saved.open === true,
    handoff: typeof saved.handoff === 'string' ? saved.handoff : 'bot',
    agentName: '',
    csatPending: saved.csat && typeof saved.csat === 'object' ? saved.csat : null,
    optedOut: saved.optedOut === true,
    turn: null,
    epoch: 0,
    live: null,
    shownAgentIds: {},
    opening: null,
    historyLoaded: false,
    historyReady: false, // the stored conversation is on screen: live events may append
    offersSupported: true,
    offer: null,
    lastPageView: '',
    stick: true
  };

  var els = {};

  /* ------------------------------------------------------------------ */
  /* HTTP                                                                */
  /* ------------------------------------------------------------------ */

  var UNAVAILABLE = /^(provider_|internal_server_error$|storage_error$|retrieval_error$|tool_error$|config_error$)/;

  function errorKey(code, status) {
    if (code && has(I18N.zh, 'error_' + code)) return 'error_' + code;
    if ((code && UNAVAILABLE.test(code)) || status >= 500) return 'error_unavailable';
    return null;
  }

  function i18nError(key, vars) {
    var err = new Error(t(key, vars));
    err.i18n = { key: key, vars: vars || null };
    return err;
  }

  async function httpError(res) {
    var code = '';
    try {
      var body = await res.json();
      if (body && typeof body.code === 'string') code = body.code;
    } catch (e) { /* not JSON */ }
    var key = errorKey(code, res.status);
    var err = key ? i18nError(key) : i18nError('httpError', { status: res.status });
    err.isHttp = true;
    err.status = res.status;
    err.code = code;
    return err;
  }

  /** fetch() against the kefu server; no cookies (the session travels in Authorization). */
  async function request(path, opts) {
    opts = opts || {};
    var headers = { Accept: opts.accept || 'application/json' };
    if (opts.token) headers.Authorization = 'Bearer ' + opts.token;
    var init = { method: opts.method || 'GET', headers: headers, cache: 'no-store',
      credentials: 'omit', mode: 'cors' };
    if (opts.signal) init.signal = opts.signal;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.json);
    }
    try {
      return await fetch(ORIGIN + path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw i18nError('networkError');
    }
  }

  /** A call with the visitor's session: renewed once on 401. Throws on non-2xx. */
  async function api(path, opts, retried) {
    opts = opts || {};
    var res = await request(path, {
      method: opts.method, json: opts.json, accept: opts.accept, signal: opts.signal,
      token: state.token
    });
    if (res.status === 401 && !retried) {
      try { if (res.body) res.body.cancel(); } catch (e) { /* ignore */ }
      await openSession();
      return api(path, opts, true);
    }
    if (!res.ok) throw await httpError(res);
    return res;
  }

  async function loadConfig() {
    var res = await request('/web/config' + (APP ? '?app=' + encodeURIComponent(APP) : ''));
    if (!res.ok) throw await httpError(res);
    var cfg = await res.json();
    if (!cfg || typeof cfg !== 'object' || typeof cfg.app !== 'string') {
      throw i18nError('error_unavailable');
    }
    return cfg;
  }

  /** This visitor's session: a new one, or the stored one renewed (same visitor). */
  async function openSession() {
    var res = await request('/web/session', {
      method: 'POST', json: { app: state.config.app }, token: state.token || null
    });
    if (!res.ok) throw await httpError(res);
    var session = await res.json();
    if (!session || typeof session.token !== 'string' || typeof session.user !== 'string') {
      throw i18nError('error_unavailable');
    }
    if (state.user && state.user !== session.user) {
      // A new visitor (the old session was too old): the old conversation is not theirs.
      forgetConversation();
    }
    state.token = session.token;
    state.user = session.user;
    save();
    clearTimeout(state.renewTimer);
    var life = typeof session.expires_in === 'number' ? session.expires_in : 600;
    state.renewTimer = setTimeout(function () {
      openSession().catch(function () { /* the next call renews on 401 */ });
    }, Math.max(30, life / 2) * 1000);
    return session;
  }

  /* ------------------------------------------------------------------ */
  /* SSE                                                                 */
  /* ------------------------------------------------------------------ */

  /** Incremental text/event-stream parser: JSON of each `data:` block to onEvent. */
  function sseParser(onEvent) {
    var buf = '';
    var data = [];
    var name = '';
    var lineRe = /\r\n|\r|\n/g;

    function dispatch() {
      var payload = data.join('\n');
      var event = name || 'message';
      data = [];
      name = '';
      if (event === 'ping' || !payload.trim()) return;
      var obj;
      try { obj = JSON.parse(payload); } catch (e) { return; }
      if (!obj || typeof obj !== 'object') return;
      if (!obj.event && event !== 'message') obj.event = event;
      onEvent(obj);
    }

    function line(text) {
      if (text === '') { dispatch(); return; }
      if (text.charAt(0) === ':') return;
      var i = text.indexOf(':');
      var field = i < 0 ? text : text.slice(0, i);
      var value = i < 0 ? '' : text.slice(i + 1);
      if (value.charAt(0) === ' ') value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'event') name = value;
    }

    return {
      push: function (chunk) {
        buf += chunk;
        var start = 0;
        var m;
        lineRe.lastIndex = 0;
        while ((m = lineRe.exec(buf)) !== null) {
          if (m[0] === '\r' && m.index === buf.length - 1) break; // maybe half of \r\n
          line(buf.slice(start, m.index));
          start = m.index + m[0].length;
        }
        buf = buf.slice(start);
      },
      end: function () {
        if (buf) line(buf.replace(/\r$/, ''));
        buf = '';
        dispatch();
      }
    };
  }

  async function readStream(res, onEvent) {
    var parser = sseParser(onEvent);
    if (!res.body || typeof res.body.getReader !== 'function') {
      parser.push(await res.text());
      parser.end();
      return;
    }
    var reader = res.body.getReader();
    var decoder = new TextDecoder('utf-8');
    for (;;) {
      var r = await reader.read();
      if (r.done) break;
      parser.push(decoder.decode(r.value, { stream: true }));
    }
    parser.push(decoder.decode());
    parser.end();
  }

  /* ------------------------------------------------------------------ */
  /* DOM helpers                                                         */
  /* ------------------------------------------------------------------ */

  function h(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = String(text);
    return el;
  }

  /** An element whose text is one of ours: re-rendered when the language changes. */
  function tr(el, key, vars) {
    el.setAttribute('data-i18n', key);
    if (vars) el.setAttribute('data-i18n-vars', JSON.stringify(vars));
    else el.removeAttribute('data-i18n-vars');
    el.textContent = t(key, vars);
    return el;
  }

  function trAttr(el, attr, key) {
    el.setAttribute('data-i18n-' + attr, key);
    el.setAttribute(attr, t(key));
    return el;
  }

  function applyI18n() {
    var nodes = els.shadow.querySelectorAll('[data-i18n]');
    var i;
    for (i = 0; i < nodes.length; i++) {
      var raw = nodes[i].getAttribute('data-i18n-vars');
      var vars = null;
      try { vars = raw ? JSON.parse(raw) : null; } catch (e) { vars = null; }
      nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'), vars);
    }
    ['aria-label', 'title', 'placeholder'].forEach(function (attr) {
      var list = els.shadow.querySelectorAll('[data-i18n-' + attr + ']');
      for (var j = 0; j < list.length; j++) {
        list[j].setAttribute(attr, t(list[j].getAttribute('data-i18n-' + attr)));
      }
    });
  }

  /** A small line icon (SVG, not emoji: many systems have no emoji font). */
  var ICONS = {
    chat: 'M21 12a8 8 0 0 1-11.6 7.1L4 21l1.9-5.4A8 8 0 1 1 21 12z',
    close: 'M6 6l12 12M18 6L6 18',
    plus: 'M12 5v14M5 12h14',
    up: 'M7 10v10H4V10h3zm0 0l4-7a2 2 0 0 1 3 2l-1 4h5a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 16.8 20H7',
    down: 'M7 14V4H4v10h3zm0 0l4 7a2 2 0 0 0 3-2l-1-4h5a2 2 0 0 0 2-2.3l-1.2-6A2 2 0 0 0 16.8 4H7'
  };

  function icon(name) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'kw-icon');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  function button(className, key) {
    var b = h('button', className);
    b.type = 'button';
    if (key) tr(b, key);
    return b;
  }

  function localized(texts) {
    if (!texts || typeof texts !== 'object') return null;
    var text = texts[state.lang];
    return typeof text === 'string' && text.trim() ? text : null;
  }

  function theme() {
    return (state.config && state.config.widget) || {};
  }

  function appTitle() {
    var cfg = state.config || {};
    return localized(cfg.localized && cfg.localized.title) ||
      (typeof cfg.title === 'string' && cfg.title.trim() ? cfg.title : null);
  }

  /* ------------------------------------------------------------------ */
  /* the frame: launcher, window, composer                               */
  /* ------------------------------------------------------------------ */

  function build() {
    var host = document.createElement('kefu-widget');
    // Before the shadow's stylesheet applies, and against a page rule on the element itself.
    // Set through CSSOM, which a strict host CSP (no 'unsafe-inline' styles) allows.
    [['all', 'initial'], ['display', 'block'], ['position', 'fixed'], ['width', '0'],
      ['height', '0'], ['z-index', '2147483647']].forEach(function (rule) {
      host.style.setProperty(rule[0], rule[1], 'important');
    });
    var shadow = host.attachShadow({ mode: 'open' });
    if (shadow.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === 'function') {
      try {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        shadow.adoptedStyleSheets = [sheet];
      } catch (e) {
        shadow.appendChild(h('style', null, CSS));
      }
    } else {
      shadow.appendChild(h('style', null, CSS));
    }
    els.host = host;
    els.shadow = shadow;

    var root = h('div', 'kw-root');
    els.root = root;
    var look = theme();
    if (typeof look.color === 'string') root.style.setProperty('--kw-accent', look.color);
    if (typeof look.text_color === 'string') {
      root.style.setProperty('--kw-accent-text', look.text_color);
    }
    root.setAttribute('data-position', look.position === 'bottom-left' ? 'bottom-left' : 'bottom-right');

    var launcher = button('kw-launcher');
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-controls', 'kw-window');
    launcher.appendChild(icon('chat'));
    els.launcherText = h('span', 'kw-launcher-text');
    launcher.appendChild(els.launcherText);
    els.unread = h('span', 'kw-unread');
    els.unread.hidden = true;
    trAttr(els.unread, 'aria-label', 'unread');
    els.unread.setAttribute('role', 'status');
    launcher.appendChild(els.unread);
    launcher.addEventListener('click', function () { setOpen(!state.open); });
    els.launcher = launcher;

    var win = h('section', 'kw-window');
    win.id = 'kw-window';
    win.setAttribute('role', 'dialog');
    win.hidden = true;

    var header = h('header', 'kw-header');
    if (typeof look.logo === 'string' && look.logo) {
      var logo = h('img', 'kw-logo');
      logo.alt = '';
      logo.src = look.logo.charAt(0) === '/' ? ORIGIN + look.logo : look.logo;
      logo.addEventListener('error', function () { logo.remove(); });
      header.appendChild(logo);
    }
    var titles = h('div', 'kw-titles');
    els.title = h('h2', 'kw-title');
    els.title.id = 'kw-title';
    win.setAttribute('aria-labelledby', 'kw-title');
    titles.appendChild(els.title);
    titles.appendChild(tr(h('p', 'kw-subtitle'), 'subtitle'));
    header.appendChild(titles);
    els.langToggle = button('kw-head-btn kw-lang', 'langToggle');
    trAttr(els.langToggle, 'aria-label', 'langToggleLabel');
    els.langToggle.addEventListener('click', function () {
      setLang(state.lang === 'zh' ? 'en' : 'zh', true);
    });
    var newChat = button('kw-head-btn kw-new');
    newChat.appendChild(icon('plus'));
    trAttr(newChat, 'aria-label', 'newChat');
    trAttr(newChat, 'title', 'newChat');
    newChat.addEventListener('click', newConversation);
    var close = button('kw-head-btn kw-close');
    close.appendChild(icon('close'));
    trAttr(close, 'aria-label', 'closeLabel');
    trAttr(close, 'title', 'closeLabel');
    close.addEventListener('click', function () { setOpen(false); });
    header.appendChild(els.langToggle);
    header.appendChild(newChat);
    header.appendChild(close);
    win.appendChild(header);

    els.banner = h('div', 'kw-banner');
    els.banner.setAttribute('role', 'status');
    els.banner.hidden = true;
    win.appendChild(els.banner);

    els.messages = h('div', 'kw-messages');
    els.messages.setAttribute('role', 'log');
    trAttr(els.messages, 'aria-label', 'messagesLabel');
    els.messages.addEventListener('scroll', function () {
      var m = els.messages;
      state.stick = m.scrollHeight - m.scrollTop - m.clientHeight < 60;
    }, { passive: true });
    win.appendChild(els.messages);

    var form = h('form', 'kw-composer');
    form.noValidate = true;
    var label = tr(h('label', 'kw-visually-hidden'), 'inputLabel');
    label.htmlFor = 'kw-input';
    els.input = h('textarea', 'kw-input');
    els.input.id = 'kw-input';
    els.input.rows = 1;
    els.input.maxLength = MAX_LEN;
    trAttr(els.input, 'placeholder', 'placeholder');
    els.send = button('kw-send', 'send');
    els.send.type = 'submit';
    els.stop = button('kw-stop', 'stop');
    els.stop.hidden = true;
    form.appendChild(label);
    form.appendChild(els.input);
    form.appendChild(els.send);
    form.appendChild(els.stop);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      submitInput();
    });
    els.input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey) {
        if (e.isComposing || e.keyCode === 229) return; // an IME (pinyin) is composing
        e.preventDefault();
        submitInput();
      } else if (e.key === 'Escape') {
        if (state.turn) stopStreaming();
        else setOpen(false);
      }
    });
    els.input.addEventListener('input', function () {
      var ta = els.input;
      ta.style.height = 'auto';
      ta.style.height = Math.min(ta.scrollHeight + 2, 120) + 'px';
      updateComposer();
    });
    els.stop.addEventListener('click', stopStreaming);
    win.appendChild(form);
    els.window = win;

    els.offer = h('div', 'kw-offer');
    els.offer.hidden = true;
    els.offer.setAttribute('role', 'status');

    root.appendChild(els.offer);
    root.appendChild(win);
    root.appendChild(launcher);
    shadow.appendChild(root);
    (document.body || document.documentElement).appendChild(host);
  }

  function renderFrame() {
    els.root.setAttribute('lang', state.lang === 'zh' ? 'zh-CN' : 'en');
    els.langToggle.setAttribute('lang', state.lang === 'zh' ? 'en' : 'zh-CN');
    els.launcherText.textContent = localized(theme().launcher_text) || t('launcher');
    els.launcher.setAttribute('aria-label', els.launcherText.textContent);
    els.title.textContent = appTitle() || t('defaultTitle');
    applyI18n();
    renderOpening();
    renderOffer();
    updateBanner();
  }

  function setLang(lang, explicit) {
    state.lang = normLang(lang) || 'zh';
    if (explicit) {
      state.langExplicit = true;
      save();
    }
    if (els.root) renderFrame();
  }

  /** Open or close the window; ``restoring``: as it was before a reload (no focus taken). */
  function setOpen(open, restoring) {
    state.open = !!open;
    save();
    els.window.hidden = !state.open;
    els.root.classList.toggle('kw-open', state.open);
    els.launcher.setAttribute('aria-expanded', state.open ? 'true' : 'false');
    trAttr(els.launcher, 'title', state.open ? 'closeLabel' : 'openLabel');
    if (state.open) {
      els.unread.hidden = true;
      hideOffer();
      ensureConversationShown();
      scrollToBottom(true);
      if (!restoring) els.input.focus();
    } else if (els.shadow.activeElement) {
      els.launcher.focus();
    }
    syncLive();
  }

  function scrollToBottom(force) {
    if (force) state.stick = true;
    if (state.stick) els.messages.scrollTop = els.messages.scrollHeight;
  }

  /* ------------------------------------------------------------------ */
  /* messages                                                            */
  /* ------------------------------------------------------------------ */

  function addUser(text) {
    var row = h('div', 'kw-row kw-row-user');
    row.appendChild(tr(h('span', 'kw-visually-hidden'), 'youSaid'));
    row.appendChild(h('div', 'kw-msg kw-msg-user', text));
    els.messages.appendChild(row);
    scrollToBottom(true);
  }

  /** A bot bubble: {row, bubble, text (a Text node), typing}. */
  function addBot(pending) {
    var row = h('div', 'kw-row kw-row-bot');
    row.appendChild(tr(h('span', 'kw-visually-hidden'), 'botSaid'));
    var bubble = h('div', 'kw-msg kw-msg-bot');
    var text = document.createTextNode('');
    bubble.appendChild(text);
    var b = { row: row, bubble: bubble, text: text, typing: null };
    if (pending) {
      b.typing = h('span', 'kw-typing');
      b.typing.setAttribute('aria-hidden', 'true');
      b.typing.appendChild(h('span'));
      b.typing.appendChild(h('span'));
      b.typing.appendChild(h('span'));
      bubble.appendChild(b.typing);
      bubble.setAttribute('aria-busy', 'true');
    }
    row.appendChild(bubble);
    els.messages.appendChild(row);
    scrollToBottom(false);
    return b;
  }

  function doneTyping(b) {
    if (b.typing) { b.typing.remove(); b.typing = null; }
    b.bubble.removeAttribute('aria-busy');
  }

  function addNote(b, key) {
    b.bubble.appendChild(tr(h('div', 'kw-note'), key));
  }

  function showError(b, err) {
    doneTyping(b);
    var e = h('div', 'kw-msg-error');
    e.setAttribute('role', 'alert');
    if (err && err.i18n) tr(e, err.i18n.key, err.i18n.vars);
    else tr(e, 'networkError');
    b.bubble.appendChild(e);
    scrollToBottom(false);
  }

  function addSystem(text) {
    var row = h('div', 'kw-row kw-row-system');
    row.appendChild(h('div', 'kw-system', text));
    els.messages.appendChild(row);
    scrollToBottom(false);
  }

  /** An agent's reply, once per id; ``old``: from the stored history (not news). */
  function addAgent(m, old) {
    var id = m.message_id || m.id;
    if (id) {
      if (state.shownAgentIds[id]) return;
      state.shownAgentIds[id] = true;
    }
    var text = m.answer == null ? '' : String(m.answer);
    if (!text) return;
    var row = h('div', 'kw-row kw-row-bot kw-row-agent');
    var bubble = h('div', 'kw-msg kw-msg-agent');
    var author = h('span', 'kw-author');
    author.appendChild(tr(h('span'), 'agent'));
    var name = m.agent && typeof m.agent.name === 'string' ? m.agent.name.trim() : '';
    if (name) author.appendChild(document.createTextNode(' · ' + name));
    bubble.appendChild(author);
    bubble.appendChild(document.createTextNode(text));
    row.appendChild(bubble);
    els.messages.appendChild(row);
    scrollToBottom(false);
    if (!state.open && !old) els.unread.hidden = false;
  }

  function renderSources(b, resources) {
    if (!Array.isArray(resources)) return;
    var list = resources.filter(function (r) { return r && typeof r === 'object'; });
    if (!list.length) return;
    list.sort(function (a, z) {
      var pa = typeof a.position === 'number' ? a.position : 1e9;
      var pz = typeof z.position === 'number' ? z.position : 1e9;
      return pa - pz;
    });
    var box = h('section', 'kw-sources');
    box.appendChild(tr(h('h3', 'kw-sources-title'), 'sources'));
    var ol = h('ol', 'kw-sources-list');
    list.forEach(function (r) {
      var li = h('li', 'kw-source');
      var name = typeof r.document_name === 'string' && r.document_name.trim() ? r.document_name
        : (typeof r.dataset_name === 'string' && r.dataset_name.trim() ? r.dataset_name : null);
      var nameEl = name ? h('span', 'kw-source-name', name) : tr(h('span', 'kw-source-name'), 'untitled');
      var content = typeof r.content === 'string' ? r.content.trim() : '';
      if (content) {
        var details = h('details');
        var summary = h('summary');
        summary.appendChild(nameEl);
        details.appendChild(summary);
        details.appendChild(h('div', 'kw-source-content', content));
        li.appendChild(details);
      } else {
        li.appendChild(nameEl);
      }
      ol.appendChild(li);
    });
    box.appendChild(ol);
    b.row.appendChild(box);
  }

  function renderFeedback(b, messageId, initial) {
    var wrap = h('div', 'kw-feedback');
    wrap.setAttribute('role', 'group');
    trAttr(wrap, 'aria-label', 'feedbackGroup');
    function rateButton(cls, iconName, key) {
      var btn = button('kw-rate ' + cls);
      btn.appendChild(icon(iconName));
      btn.appendChild(tr(h('span'), key));
      btn.setAttribute('aria-pressed', 'false');
      return btn;
    }
    var like = rateButton('kw-like', 'up', 'helpful');
    var dislike = rateButton('kw-dislike', 'down', 'notHelpful');
    var status = h('span', 'kw-feedback-status');
    status.setAttribute('role', 'status');
    var rating = initial || null;
    var busy = false;
    function show(r) {
      like.setAttribute('aria-pressed', r === 'like' ? 'true' : 'false');
      dislike.setAttribute('aria-pressed', r === 'dislike' ? 'true' : 'false');
    }
    async function rate(r) {
      if (busy) return;
      busy = true;
      var next = rating === r ? null : r;
      show(next);
      status.classList.remove('kw-status-error');
      try {
        await api('/v1/messages/' + encodeURIComponent(messageId) + '/feedbacks', {
          method: 'POST', json: { rating: next }
        });
        rating = next;
        tr(status, next ? 'feedbackThanks' : 'feedbackCleared');
      } catch (err) {
        show(rating);
        status.classList.add('kw-status-error');
        tr(status, err.i18n ? err.i18n.key : 'networkError', err.i18n ? err.i18n.vars : null);
      } finally {
        busy = false;
      }
    }
    show(rating);
    like.addEventListener('click', function () { rate('like'); });
    dislike.addEventListener('click', function () { rate('dislike'); });
    wrap.appendChild(like);
    wrap.appendChild(dislike);
    wrap.appendChild(status);
    b.row.appendChild(wrap);
  }

  /* ------------------------------------------------------------------ */
  /* opening, history                                                    */
  /* ------------------------------------------------------------------ */

  var paramsPromise = null;

  function parameters() {
    if (!paramsPromise) {
      paramsPromise = api('/v1/parameters').then(function (res) { return res.json(); });
      paramsPromise.catch(function () { paramsPromise = null; });
    }
    return paramsPromise;
  }

  /** The greeting in the visitor's language: the widget's, the app's opening, or ours. */
  function greeting() {
    var cfg = state.config || {};
    return localized(theme().greeting) ||
      localized(cfg.localized && cfg.localized.opening_statement) || t('greeting');
  }

  function showOpening() {
    var b = addBot(false);
    state.opening = { bubble: b, questions: null, suggest: true };
    renderOpening();
    var epoch = state.epoch;
    parameters().then(function (params) {
      if (epoch !== state.epoch || !state.opening) return;
      state.opening.questions = params && params.suggested_questions;
      renderOpening();
    }, function () { /* no suggestions */ });
  }

  var CHINESE = /[\u3400-\u9fff]/;

  function renderOpening() {
    var o = state.opening;
    if (!o) return;
    o.bubble.text.data = greeting();
    var old = o.bubble.row.querySelector('.kw-suggestions');
    if (old) old.remove();
    if (!o.suggest || !Array.isArray(o.questions)) return;
    var list = o.questions.filter(function (q) { return typeof q === 'string' && q.trim(); });
    var mine = list.filter(function (q) { return CHINESE.test(q) === (state.lang === 'zh'); });
    if (mine.length) list = mine;
    if (!list.length) return;
    var wrap = h('div', 'kw-suggestions');
    wrap.setAttribute('role', 'group');
    trAttr(wrap, 'aria-label', 'suggestions');
    list.slice(0, 4).forEach(function (q) {
      var chip = button('kw-suggestion');
      chip.textContent = q;
      chip.addEventListener('click', function () { send(q); });
      wrap.appendChild(chip);
    });
    o.bubble.row.appendChild(wrap);
  }

  function dropSuggestions() {
    if (state.opening) state.opening.suggest = false;
    var nodes = els.messages.querySelectorAll('.kw-suggestions');
    for (var i = 0; i < nodes.length; i++) nodes[i].remove();
  }

  /** The first time the window opens: the stored conversation, or the greeting. */
  function ensureConversationShown() {
    if (state.historyLoaded) return;
    state.historyLoaded = true;
    if (!state.conversationId) {
      state.historyReady = true;
      showOpening();
      return;
    }
    loadHistory();
  }

  async function loadHistory() {
    try {
      await showHistory();
    } finally {
      state.historyReady = true;
      syncLive();
    }
  }

  async function showHistory() {
    var epoch = state.epoch;
    var conversationId = state.conversationId;
    var body;
    try {
      var res = await api('/v1/messages?conversation_id=' + encodeURIComponent(conversationId) +
        '&limit=' + HISTORY_LIMIT);
      body = await res.json();
    } catch (err) {
      if (epoch !== state.epoch) return;
      if (err && err.isHttp && (err.status === 404 || err.status === 403)) {
        forgetConversation(); // deleted, expired, or another visitor's
        showOpening();
      } else {
        showError(addBot(false), err);
      }
      return;
    }
    if (epoch !== state.epoch) return;
    var messages = body && Array.isArray(body.data) ? body.data : [];
    if (!messages.length) showOpening();
    messages.forEach(function (m) {
      if (!m || typeof m !== 'object') return;
      if (m.agent) {
        addAgent(m, true);
        return;
      }
      if (typeof m.query === 'string' && m.query) addUser(m.query);
      var answer = typeof m.answer === 'string' ? m.answer : '';
      if (!answer) return; // a message a human owned: the bot stayed silent
      var b = addBot(false);
      b.text.data = answer;
      renderSources(b, m.retriever_resources);
      renderFeedback(b, m.id, m.feedback && m.feedback.rating);
    });
    if (state.csatPending && state.csatPending.conversationId === conversationId &&
        state.handoff === 'resolved') {
      showCsat(state.csatPending.question);
    }
    scrollToBottom(true);
  }

  function forgetConversation() {
    stopLive();
    state.conversationId = '';
    state.handoff = 'bot';
    state.agentName = '';
    state.csatPending = null;
    state.shownAgentIds = {};
    save();
  }

  function newConversation() {
    var turn = state.turn;
    if (turn) {
      turn.discarded = true;
      sendStop(turn);
      turn.controller.abort();
    }
    state.turn = null;
    state.epoch++;
    forgetConversation();
    updateBanner();
    els.messages.textContent = '';
    state.historyLoaded = true;
    state.historyReady = true;
    showOpening();
    updateComposer();
    els.input.focus();
  }

  /* ------------------------------------------------------------------ */
  /* a turn                                                              */
  /* ------------------------------------------------------------------ */

  function submitInput() {
    var text = els.input.value;
    if (state.turn || !text.trim() || text.length > MAX_LEN) return;
    els.input.value = '';
    els.input.style.height = '';
    send(text);
  }

  function updateComposer() {
    var busy = !!state.turn;
    var text = els.input.value;
    els.send.disabled = busy || !text.trim() || text.length > MAX_LEN;
    els.send.hidden = busy;
    els.stop.hidden = !busy;
    var chips = els.messages.querySelectorAll('.kw-suggestion');
    for (var i = 0; i < chips.length; i++) chips[i].disabled = busy;
  }

  function handleEvent(turn, ev) {
    if (turn.discarded) return;
    turn.gotEvent = true;
    if (typeof ev.task_id === 'string' && ev.task_id && !turn.taskId) {
      turn.taskId = ev.task_id;
      if (turn.stopRequested) sendStop(turn);
    }
    if (typeof ev.conversation_id === 'string' && ev.conversation_id &&
        ev.conversation_id !== state.conversationId) {
      state.conversationId = ev.conversation_id;
      save();
    }
    if (ev.message_id) turn.messageId = String(ev.message_id);
    switch (ev.event) {
      case 'message':
      case 'agent_message':
        if (ev.answer != null && ev.answer !== '') {
          doneTyping(turn.bot);
          turn.bot.text.appendData(String(ev.answer));
          scrollToBottom(false);
        }
        break;
      case 'message_replace':
        doneTyping(turn.bot);
        turn.bot.text.data = ev.answer == null ? '' : String(ev.answer);
        break;
      case 'message_end':
        turn.ended = true;
        if (ev.metadata && typeof ev.metadata === 'object') {
          turn.resources = ev.metadata.retriever_resources;
          if (typeof ev.metadata.handoff_state === 'string') {
            turn.handoffState = ev.metadata.handoff_state;
          }
        }
        break;
      case 'error': {
        turn.error = true;
        var key = errorKey(typeof ev.code === 'string' ? ev.code : '', ev.status || 500);
        showError(turn.bot, key ? i18nError(key) : i18nError('httpError', { status: ev.status || 500 }));
        break;
      }
      default:
        break; // ping, workflow events, agent_thought…: nothing to show
    }
  }

  function sendStop(turn) {
    if (turn.stopSent || !turn.taskId) return;
    turn.stopSent = true;
    api('/v1/chat-messages/' + encodeURIComponent(turn.taskId) + '/stop', {
      method: 'POST', json: {}
    }).catch(function () { /* the abort below ends the stream anyway */ });
  }

  function stopStreaming() {
    var turn = state.turn;
    if (!turn || turn.stopRequested) return;
    turn.stopRequested = true;
    sendStop(turn);
    turn.stopTimer = setTimeout(function () {
      if (state.turn === turn) turn.controller.abort();
    }, STOP_GRACE_MS);
  }

  async function send(query) {
    if (state.turn || typeof query !== 'string' || !query.trim()) return;
    dropSuggestions();
    addUser(query);
    var turn = {
      bot: addBot(true), controller: new AbortController(), taskId: '', messageId: '',
      gotEvent: false, ended: false, error: false, stopRequested: false, stopSent: false,
      stopTimer: null, resources: null, handoffState: '', discarded: false, interrupted: false
    };
    state.turn = turn;
    updateComposer();
    try {
      var res = await api('/v1/chat-messages', {
        method: 'POST',
        accept: 'text/event-stream',
        json: {
          query: query, inputs: {}, response_mode: 'streaming',
          conversation_id: state.conversationId || ''
        },
        signal: turn.controller.signal
      });
      await readStream(res, function (ev) { handleEvent(turn, ev); });
      if (!turn.ended && !turn.error && !turn.stopRequested) turn.interrupted = true;
    } catch (e) {
      if (!turn.discarded) {
        if (e && e.name === 'AbortError') {
          if (!turn.stopRequested) turn.interrupted = true;
        } else if (turn.gotEvent && turn.bot.text.data) {
          turn.interrupted = true;
        } else {
          turn.error = true;
          showError(turn.bot, e);
        }
      }
    } finally {
      clearTimeout(turn.stopTimer);
      if (state.turn === turn) state.turn = null;
      finishTurn(turn);
      updateComposer();
    }
  }

  function isHuman(s) {
    return s === 'pending_human' || s === 'human';
  }

  function finishTurn(turn) {
    var b = turn.bot;
    doneTyping(b);
    if (turn.discarded) return;
    if (isHuman(turn.handoffState) && !turn.error && !turn.interrupted && !b.text.data) {
      b.row.remove(); // a human owns the conversation: the bot stays silent
    } else {
      if (!turn.error) {
        if (turn.stopRequested) addNote(b, 'stopped');
        else if (turn.interrupted) addNote(b, 'interrupted');
        else if (!b.text.data) addNote(b, 'emptyAnswer');
      }
      renderSources(b, turn.resources);
      if (turn.messageId && !turn.error && b.text.data) renderFeedback(b, turn.messageId, null);
    }
    if (turn.handoffState && turn.handoffState !== state.handoff) {
      setHandoff(turn.handoffState, undefined, null);
    }
    scrollToBottom(false);
    syncLive();
  }

  /* ------------------------------------------------------------------ */
  /* hand-over: live events, agent replies, CSAT                          */
  /* ------------------------------------------------------------------ */

  function updateBanner() {
    var b = els.banner;
    b.classList.remove('kw-human');
    if (state.handoff === 'pending_human') {
      tr(b, 'handoffPending');
      b.hidden = false;
    } else if (state.handoff === 'human') {
      if (state.agentName) tr(b, 'handoffHuman', { name: state.agentName });
      else tr(b, 'handoffHumanAnon');
      b.classList.add('kw-human');
      b.hidden = false;
    } else {
      b.hidden = true;
      b.removeAttribute('data-i18n');
      b.textContent = '';
    }
  }

  function setHandoff(s, agent, ev) {
    if (typeof s !== 'string' || !s) return;
    var was = state.handoff;
    state.handoff = s;
    if (s === 'human') {
      if (agent !== undefined) {
        state.agentName = agent && typeof agent.name === 'string' ? agent.name.trim() : '';
      }
    } else {
      state.agentName = '';
    }
    updateBanner();
    if (s === 'resolved' && ev && was !== 'resolved') {
      if (typeof ev.message === 'string' && ev.message.trim()) addSystem(ev.message);
      if (ev.csat && typeof ev.csat === 'object') {
        var question = typeof ev.csat.question === 'string' ? ev.csat.question : '';
        state.csatPending = { conversationId: state.conversationId, question: question };
        showCsat(question);
        if (!state.open) els.unread.hidden = false;
      }
    }
    save();
  }

  function showCsat(question) {
    var conversationId = state.conversationId;
    var old = els.messages.querySelectorAll('.kw-row-csat');
    for (var i = 0; i < old.length; i++) old[i].remove();
    var row = h('div', 'kw-row kw-row-csat');
    var form = h('form', 'kw-csat');
    form.noValidate = true;
    var q = question && question.trim() ? h('p', 'kw-csat-question', question)
      : tr(h('p', 'kw-csat-question'), 'csatQuestion');
    form.appendChild(q);
    var scores = h('div', 'kw-csat-scores');
    scores.setAttribute('role', 'group');
    trAttr(scores, 'aria-label', 'csatScores');
    var rating = 0;
    var buttons = [];
    [1, 2, 3, 4, 5].forEach(function (value) {
      var b = button('kw-csat-score');
      b.textContent = String(value);
      b.setAttribute('data-value', String(value));
      b.setAttribute('aria-pressed', 'false');
      b.addEventListener('click', function () {
        rating = value;
        buttons.forEach(function (other, idx) {
          other.setAttribute('aria-pressed', idx + 1 === value ? 'true' : 'false');
        });
        submit.disabled = false;
      });
      buttons.push(b);
      scores.appendChild(b);
    });
    form.appendChild(scores);
    var comment = h('textarea', 'kw-csat-comment');
    comment.rows = 2;
    comment.maxLength = MAX_LEN;
    trAttr(comment, 'placeholder', 'csatComment');
    trAttr(comment, 'aria-label', 'csatComment');
    form.appendChild(comment);
    var actions = h('div', 'kw-csat-actions');
    var submit = h('button', 'kw-btn-primary kw-csat-submit');
    submit.type = 'submit';
    submit.disabled = true;
    tr(submit, 'csatSubmit');
    var status = h('span', 'kw-csat-status');
    status.setAttribute('role', 'status');
    actions.appendChild(submit);
    actions.appendChild(status);
    form.appendChild(actions);
    form.addEventListener('submit', async function (e) {
      e.preventDefault();
      if (!rating || submit.disabled) return;
      submit.disabled = true;
      status.classList.remove('kw-status-error');
      try {
        var text = comment.value.trim();
        await api('/v1/conversations/' + encodeURIComponent(conversationId) + '/csat', {
          method: 'POST', json: { rating: rating, comment: text || null }
        });
        state.csatPending = null;
        save();
        form.textContent = '';
        form.appendChild(tr(h('p', 'kw-csat-thanks'), 'csatThanks'));
      } catch (err) {
        status.classList.add('kw-status-error');
        tr(status, err.i18n ? err.i18n.key : 'networkError', err.i18n ? err.i18n.vars : null);
        submit.disabled = false;
      }
    });
    row.appendChild(form);
    els.messages.appendChild(row);
    scrollToBottom(false);
  }

  /** Listen for the agent while the window is open or a human is involved. */
  function syncLive() {
    // Not before the stored conversation is on screen: a reply must land after it.
    var want = !!state.conversationId && state.historyReady &&
      (state.open || isHuman(state.handoff));
    if (!want) {
      stopLive();
      return;
    }
    if (state.live && state.live.conversationId === state.conversationId) return;
    stopLive();
    var live = { conversationId: state.conversationId, controller: null, timer: null,
      failures: 0, stopped: false };
    state.live = live;
    connectLive(live);
  }

  function stopLive() {
    var live = state.live;
    state.live = null;
    if (!live) return;
    live.stopped = true;
    clearTimeout(live.timer);
    if (live.controller) live.controller.abort();
  }

  async function catchUp(live) {
    try {
      var res = await api('/v1/messages?conversation_id=' +
        encodeURIComponent(live.conversationId) + '&limit=20');
      var body = await res.json();
      if (live.stopped || !body || !Array.isArray(body.data)) return;
      body.data.forEach(function (m) { if (m && m.agent) addAgent(m); });
    } catch (e) { /* best effort */ }
  }

  async function connectLive(live) {
    if (live.stopped) return;
    live.controller = new AbortController();
    var opened = false;
    try {
      var res = await api('/v1/conversations/' + encodeURIComponent(live.conversationId) +
        '/events', { accept: 'text/event-stream', signal: live.controller.signal });
      await readStream(res, function (ev) {
        if (live.stopped) return;
        if (!opened) {
          opened = true;
          live.failures = 0;
          catchUp(live); // replies sent while it was not listening (shown once, by id)
        }
        if (ev.conversation_id && ev.conversation_id !== live.conversationId) return;
        if (ev.event === 'agent_message') addAgent(ev);
        else if (ev.event === 'handoff_state') setHandoff(ev.handoff_state, ev.agent, ev);
      });
    } catch (e) {
      if (live.stopped) return;
      if (e && e.isHttp && e.status >= 400 && e.status < 500 && e.status !== 408 &&
          e.status !== 429) {
        if (state.live === live) state.live = null;
        return; // not ours or gone: retrying will not help
      }
    }
    if (live.stopped) return;
    // Dropped (network, a restart, a proxy's timeout): again, with backoff and jitter.
    var delay = Math.min(LIVE_RETRY_MAX_MS, LIVE_RETRY_MIN_MS * Math.pow(2, live.failures));
    live.failures++;
    live.timer = setTimeout(function () { connectLive(live); },
      Math.round(delay * (0.8 + Math.random() * 0.4)));
  }

  /* ------------------------------------------------------------------ */
  /* proactive offers and events                                         */
  /* ------------------------------------------------------------------ */

  /** POST to the events/offers API; a 404 (a server without it) turns it off quietly. */
  async function offersCall(path, body) {
    if (!state.offersSupported || !state.token) return null;
    try {
      var res = await api(path, { method: 'POST', json: body });
      return await res.json().catch(function () { return null; });
    } catch (err) {
      if (err && err.isHttp && (err.status === 404 || err.status === 405)) {
        state.offersSupported = false;
      }
      return null;
    }
  }

  async function track(event, properties) {
    if (typeof event !== 'string' || !event || state.optedOut) return;
    var props = properties && typeof properties === 'object' ? properties : {};
    var reply = await offersCall('/web/events', {
      event: event, properties: props, conversation_id: state.conversationId || null,
      language: state.lang // of the offer's `message`
    });
    var offers = reply && Array.isArray(reply.offers) ? reply.offers : [];
    var offer = offers.filter(function (o) {
      return o && typeof o === 'object' && typeof o.id === 'string' && o.id;
    })[0];
    if (offer) showOffer(offer);
  }

  function pageView() {
    if (location.href === state.lastPageView) return;
    state.lastPageView = location.href;
    // Cut, so a page with a very long URL or title still fits the events API's 4 KB.
    track('page_view', {
      url: location.href.slice(0, 1000), path: location.pathname.slice(0, 500),
      title: document.title.slice(0, 300), referrer: document.referrer.slice(0, 1000)
    });
  }

  function offerText(offer) {
    return localized(offer.localized) ||
      (typeof offer.message === 'string' ? offer.message : '');
  }

  function showOffer(offer) {
    if (state.open || state.optedOut || !offerText(offer)) return; // already chatting
    state.offer = offer;
    renderOffer();
  }

  function hideOffer() {
    state.offer = null;
    els.offer.hidden = true;
    els.offer.textContent = '';
  }

  function renderOffer() {
    var offer = state.offer;
    if (!offer) return;
    var box = els.offer;
    box.textContent = '';
    box.appendChild(h('p', 'kw-offer-text', offerText(offer)));
    var actions = h('div', 'kw-offer-actions');
    var accept = button('kw-btn-primary kw-offer-accept', 'offerAccept');
    accept.addEventListener('click', function () {
      hideOffer();
      setOpen(true);
      var b = addBot(false);
      b.text.data = offerText(offer);
      scrollToBottom(true);
      offersCall('/web/offers/' + encodeURIComponent(offer.id) + '/accept', {
        conversation_id: state.conversationId || null
      }).then(function (reply) {
        // A server that opened the conversation with the offer names it: continue that one.
        var id = reply && typeof reply.conversation_id === 'string' ? reply.conversation_id : '';
        if (id && !state.conversationId && !state.turn) {
          state.conversationId = id;
          save();
          syncLive();
        }
      });
    });
    var optOut = button('kw-offer-optout', 'offerOptOut');
    optOut.addEventListener('click', function () {
      hideOffer();
      state.optedOut = true;
      save();
      offersCall('/web/events/opt-out', {});
    });
    var close = button('kw-offer-close');
    close.appendChild(icon('close'));
    trAttr(close, 'aria-label', 'offerClose');
    trAttr(close, 'title', 'offerClose');
    close.addEventListener('click', function () {
      hideOffer();
      offersCall('/web/offers/' + encodeURIComponent(offer.id) + '/dismiss', {});
    });
    actions.appendChild(accept);
    actions.appendChild(optOut);
    box.appendChild(actions);
    box.appendChild(close);
    box.hidden = false;
  }

  /** Single-page apps change the URL without loading a page: follow pushState and popstate. */
  function watchNavigation() {
    var push = history.pushState;
    if (typeof push === 'function') {
      history.pushState = function () {
        var result = push.apply(this, arguments);
        setTimeout(onNavigate, 50); // the app sets its new title right after
        return result;
      };
    }
    window.addEventListener('popstate', function () { setTimeout(onNavigate, 50); });
  }

  function onNavigate() {
    if (els.host && !els.host.isConnected) {
      // The app re-rendered <body>: put the widget back.
      (document.body || document.documentElement).appendChild(els.host);
    }
    pageView();
  }

  /* ------------------------------------------------------------------ */
  /* start                                                               */
  /* ------------------------------------------------------------------ */

  function pickLanguage(cfg) {
    var choice = normLang(DATA_LANG);
    if (choice) return { lang: choice, explicit: true };
    if (normLang(saved.lang)) return { lang: normLang(saved.lang), explicit: true };
    var page = normLang(document.documentElement.getAttribute('lang'));
    if (page) return { lang: page, explicit: false };
    var langs = navigator.languages && navigator.languages.length ? navigator.languages
      : [navigator.language || ''];
    for (var i = 0; i < langs.length; i++) {
      if (normLang(langs[i])) return { lang: normLang(langs[i]), explicit: false };
    }
    return { lang: normLang(cfg.language) || 'zh', explicit: false };
  }

  function setStatus(status) {
    state.status = status;
    api_.status = status;
  }

  async function start(attempt) {
    try {
      state.config = await loadConfig();
      if (state.config.origin_allowed === false) {
        var refused = new Error('this site is not in web.allowed_origins');
        refused.isHttp = true;
        refused.status = 403;
        throw refused;
      }
      await openSession();
    } catch (err) {
      var permanent = err && err.isHttp && err.status >= 400 && err.status < 500 &&
        err.status !== 408 && err.status !== 429;
      if (!permanent && attempt < CONFIG_RETRIES.length) {
        setTimeout(function () { start(attempt + 1); }, CONFIG_RETRIES[attempt]);
        return;
      }
      setStatus('unavailable');
      early = [];
      // Nothing is drawn: a customer never sees a broken button. The site's developer sees why.
      if (window.console && console.warn) {
        console.warn('kefu widget: not shown — app ' + JSON.stringify(APP || '(first)') +
          ' on ' + ORIGIN + ' refused or unreachable from ' + location.origin +
          ' (is this origin in the app\'s web.allowed_origins?)', err && err.message);
      }
      return;
    }
    var choice = pickLanguage(state.config);
    state.lang = choice.lang;
    state.langExplicit = choice.explicit;
    build();
    renderFrame();
    setStatus('ready');
    // A stored conversation is shown at once (open or not), so replies that arrive while
    // the window is closed land after it.
    if (state.conversationId) ensureConversationShown();
    // Open again after a reload, but not on a phone, where it would cover each new page.
    if (state.open && window.matchMedia('(min-width: 481px)').matches) setOpen(true, true);
    else if (state.open) setOpen(false, true);
    updateComposer();
    watchNavigation();
    pageView();
    early.splice(0).forEach(function (call) { track(call[0], call[1]); });
  }

  var api_ = {
    widget: VERSION,
    status: 'loading',
    open: function () { if (els.root) setOpen(true); },
    close: function () { if (els.root) setOpen(false); },
    setLanguage: function (lang) { if (normLang(lang)) setLang(lang, true); },
    /** Send a custom event (cart, order_paid, …) the way page views are sent; before the
     * widget is ready, it is kept and sent once it is. */
    track: function (event, properties) {
      if (state.status === 'ready') return track(event, properties);
      if (state.status === 'loading' && early.length < 20) early.push([event, properties]);
      return Promise.resolve();
    }
  };
  var early = [];
  window.kefu = api_;

  start(0);
})();
