/*
 * kefu demo chat page.
 *
 * Plain browser JavaScript, no build step, no external dependencies.
 * Talks to the kefu server:
 *   GET  /web/config                              -> app title, language
 *   POST /web/session                             -> a signed session for this visitor
 *                                                    (renewed with the previous one)
 *   GET  /v1/parameters?user=U                    -> opening statement, suggested questions
 *   POST /v1/chat-messages (streaming, SSE)       -> answer chunks
 *   POST /v1/chat-messages/{task_id}/stop         -> stop generation
 *   POST /v1/messages/{message_id}/feedbacks      -> like / dislike / clear
 *   GET  /v1/conversations/{id}/events?user=U     -> (SSE) hand-over state, agent replies
 *   GET  /v1/messages?conversation_id=C&user=U    -> agent replies missed while reconnecting
 *   POST /v1/conversations/{id}/csat              -> rate the agent after a hand-over
 *
 * Every server-provided string is inserted as text (textContent / Text nodes),
 * never as HTML.
 */
(function () {
  'use strict';

  var MAX_LEN = 4000;
  var STOP_GRACE_MS = 2000;
  var STORAGE_SESSION = 'kefu.web.session';
  var STORAGE_LANG = 'kefu.web.lang';

  /* ------------------------------------------------------------------ */
  /* SSE parser (pure; also exported for Node-based tests)               */
  /* ------------------------------------------------------------------ */

  /**
   * Incremental text/event-stream parser.
   * push(text) may be called with arbitrary fragments (lines can be split
   * anywhere, including between "\r" and "\n"); end() flushes what is left.
   * onEvent receives each parsed JSON object from `data:` lines. Blocks with
   * `event: ping` (and blocks with no data) are ignored.
   */
  function createSSEParser(onEvent) {
    var buf = '';
    var dataLines = [];
    var hasData = false;
    var eventName = '';
    var lineRe = /\r\n|\r|\n/g;

    function dispatch() {
      if (!hasData) {
        eventName = '';
        return;
      }
      var payload = dataLines.join('\n');
      var name = eventName || 'message';
      dataLines = [];
      hasData = false;
      eventName = '';
      if (name === 'ping' || !payload.trim()) return;
      var obj;
      try {
        obj = JSON.parse(payload);
      } catch (e) {
        return; // not JSON: ignore
      }
      if (!obj || typeof obj !== 'object') return;
      if (!obj.event && name !== 'message') obj.event = name;
      onEvent(obj);
    }

    function processLine(line) {
      if (line === '') {
        dispatch();
        return;
      }
      if (line.charCodeAt(0) === 58 /* ':' comment */) return;
      var i = line.indexOf(':');
      var field = i < 0 ? line : line.slice(0, i);
      var value = i < 0 ? '' : line.slice(i + 1);
      if (value.charCodeAt(0) === 32 /* ' ' */) value = value.slice(1);
      if (field === 'data') {
        dataLines.push(value);
        hasData = true;
      } else if (field === 'event') {
        eventName = value;
      }
      // id / retry / unknown fields: not needed here
    }

    return {
      push: function (chunk) {
        if (!chunk) return;
        buf += chunk;
        var start = 0;
        var m;
        lineRe.lastIndex = 0;
        while ((m = lineRe.exec(buf)) !== null) {
          // A lone "\r" at the very end may be the first half of "\r\n":
          // wait for the next chunk before deciding.
          if (m[0] === '\r' && m.index === buf.length - 1) break;
          processLine(buf.slice(start, m.index));
          start = m.index + m[0].length;
        }
        buf = buf.slice(start);
      },
      end: function () {
        if (buf) {
          var rest = buf.replace(/\r$/, '');
          buf = '';
          processLine(rest);
        }
        dispatch();
      }
    };
  }

  if (typeof window === 'undefined' || typeof document === 'undefined') {
    if (typeof module === 'object' && module && module.exports) {
      module.exports = { createSSEParser: createSSEParser };
    }
    return;
  }

  /* ------------------------------------------------------------------ */
  /* i18n                                                                */
  /* ------------------------------------------------------------------ */

  var I18N = {
    zh: {
      defaultTitle: '客服',
      subtitle: 'AI 智能客服',
      newConversation: '新对话',
      newConversationTitle: '开始新对话',
      langToggle: 'EN',
      langToggleLabel: 'Switch to English',
      messagesLabel: '对话消息',
      inputLabel: '输入您的问题',
      inputPlaceholder: '输入您的问题…',
      send: '发送',
      stop: '停止',
      stopLabel: '停止生成',
      hint: 'Enter 发送，Shift+Enter 换行',
      counterLabel: '已输入 {n} / {max} 字',
      greeting: '您好！请问有什么可以帮您？',
      suggestionsLabel: '猜你想问',
      youSaid: '您：',
      botSaid: '客服：',
      sources: '来源',
      score: '相关度',
      untitledSource: '未命名文档',
      noSnippet: '（无片段内容）',
      feedbackGroup: '这个回答有帮助吗？',
      helpful: '有帮助',
      notHelpful: '没帮助',
      feedbackThanks: '感谢您的反馈',
      feedbackCleared: '已取消评价',
      stopped: '已停止生成',
      emptyAnswer: '（没有回复内容）',
      interrupted: '连接中断，回复可能不完整',
      networkError: '网络错误，请检查网络后重试',
      configError: '无法加载客服配置，请稍后重试',
      httpError: '请求失败（HTTP {status}）',
      tooLong: '内容超出 {max} 字上限',
      handoffPending: '正在为您转接人工客服…',
      handoffHuman: '人工客服 {name} 为您服务',
      handoffHumanAnon: '人工客服为您服务',
      agentLabel: '人工客服',
      csatQuestion: '请为本次人工服务打分（1-5 分）',
      csatRatingLabel: '评分（1-5 分）',
      csatCommentLabel: '意见或建议（选填）',
      csatSubmit: '提交评价',
      csatChoose: '请先选择 1-5 分',
      csatThanks: '感谢您的评价！',
      error_too_many_requests: '请求太频繁，请稍后再试',
      error_not_found: '对话不存在或已删除，请开始新对话',
      error_unauthorized: '页面已过期，请刷新后重试',
      error_forbidden: '没有权限访问此对话',
      error_invalid_param: '请求有误，请检查输入后重试',
      error_conflict: '对话状态已变化，请稍后再试',
      error_unavailable: '服务暂时不可用，请稍后再试'
    },
    en: {
      defaultTitle: 'Customer Service',
      subtitle: 'AI customer service',
      newConversation: 'New chat',
      newConversationTitle: 'Start a new conversation',
      langToggle: '中文',
      langToggleLabel: '切换到中文',
      messagesLabel: 'Conversation',
      inputLabel: 'Type your question',
      inputPlaceholder: 'Type your question…',
      send: 'Send',
      stop: 'Stop',
      stopLabel: 'Stop generating',
      hint: 'Enter to send, Shift+Enter for a new line',
      counterLabel: '{n} of {max} characters',
      greeting: 'Hello! How can I help you today?',
      suggestionsLabel: 'Suggested questions',
      youSaid: 'You:',
      botSaid: 'Assistant:',
      sources: 'Sources',
      score: 'Score',
      untitledSource: 'Untitled document',
      noSnippet: '(no snippet)',
      feedbackGroup: 'Was this answer helpful?',
      helpful: 'Helpful',
      notHelpful: 'Not helpful',
      feedbackThanks: 'Thanks for your feedback',
      feedbackCleared: 'Rating removed',
      stopped: 'Stopped',
      emptyAnswer: '(no answer)',
      interrupted: 'Connection lost; the answer may be incomplete',
      networkError: 'Network error. Please check your connection and try again.',
      configError: 'Could not load the chat configuration. Please try again later.',
      httpError: 'Request failed (HTTP {status})',
      tooLong: 'Text exceeds the {max}-character limit',
      handoffPending: 'Connecting you to a human agent…',
      handoffHuman: 'You\'re chatting with {name}',
      handoffHumanAnon: 'You\'re chatting with a human agent',
      agentLabel: 'Agent',
      csatQuestion: 'Please rate the agent (1-5)',
      csatRatingLabel: 'Rating (1-5)',
      csatCommentLabel: 'Comments (optional)',
      csatSubmit: 'Submit rating',
      csatChoose: 'Please choose a rating from 1 to 5',
      csatThanks: 'Thank you for your rating!',
      error_too_many_requests: 'Too many requests. Please wait a moment and try again.',
      error_not_found: 'This conversation no longer exists. Please start a new chat.',
      error_unauthorized: 'This page has expired. Please reload it and try again.',
      error_forbidden: 'You do not have access to this conversation.',
      error_invalid_param: 'The request was not valid. Please check your message and try again.',
      error_conflict: 'The conversation changed. Please try again.',
      error_unavailable: 'The service is temporarily unavailable. Please try again later.'
    }
  };

  function normLang(s) {
    if (typeof s !== 'string') return null;
    s = s.toLowerCase();
    if (s.indexOf('zh') === 0) return 'zh';
    if (s.indexOf('en') === 0) return 'en';
    return null;
  }

  function storageGet(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (e) {
      return null;
    }
  }

  function storageSet(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (e) {
      /* private mode / disabled storage: keep in memory only */
    }
  }

  function browserLang() {
    var langs = (navigator.languages && navigator.languages.length)
      ? navigator.languages : [navigator.language || ''];
    for (var i = 0; i < langs.length; i++) {
      var l = normLang(langs[i]);
      if (l) return l;
    }
    return 'zh';
  }

  function t(key, vars) {
    var dict = I18N[state.lang] || I18N.zh;
    var s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key]
      : (Object.prototype.hasOwnProperty.call(I18N.zh, key) ? I18N.zh[key] : key);
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (all, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : all;
      });
    }
    return s;
  }

  /** Make el's text a translatable string (re-rendered on language switch). */
  function setI18nText(el, key, vars) {
    el.setAttribute('data-i18n', key);
    if (vars) el.setAttribute('data-i18n-vars', JSON.stringify(vars));
    else el.removeAttribute('data-i18n-vars');
    el.textContent = t(key, vars);
  }

  function readVars(el) {
    var raw = el.getAttribute('data-i18n-vars');
    if (!raw) return null;
    try {
      return JSON.parse(raw);
    } catch (e) {
      return null;
    }
  }

  function applyI18n(root) {
    root = root || document;
    var i, nodes;
    nodes = root.querySelectorAll('[data-i18n]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'), readVars(nodes[i]));
    }
    nodes = root.querySelectorAll('[data-i18n-aria]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('aria-label', t(nodes[i].getAttribute('data-i18n-aria')));
    }
    nodes = root.querySelectorAll('[data-i18n-title]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('title', t(nodes[i].getAttribute('data-i18n-title')));
    }
    nodes = root.querySelectorAll('[data-i18n-placeholder]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('placeholder', t(nodes[i].getAttribute('data-i18n-placeholder')));
    }
  }

  function setLang(lang, explicit) {
    lang = normLang(lang) || 'zh';
    state.lang = lang;
    if (explicit) {
      state.langExplicit = true;
      storageSet(STORAGE_LANG, lang);
    }
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    if (els.langToggle) els.langToggle.setAttribute('lang', lang === 'zh' ? 'en' : 'zh-CN');
    applyI18n(document);
    updateCounter();
    applyTitle();
    renderOpening();
  }

  /* ------------------------------------------------------------------ */
  /* state & elements                                                    */
  /* ------------------------------------------------------------------ */

  var savedLang = normLang(storageGet(STORAGE_LANG));

  var state = {
    lang: savedLang || browserLang(),
    langExplicit: !!savedLang,
    config: null,
    token: '',
    opening: null, // the opening bubble and /v1/parameters, re-rendered on a language switch
    user: '', // the session's visitor id (kefu generates it; the session proves it)
    renewTimer: null,
    conversationId: '',
    turn: null, // the answer currently streaming, if any
    epoch: 0, // bumped by "new conversation" to discard late events
    handoff: 'bot', // bot | pending_human | human | resolved
    agentName: '', // the agent who owns the conversation, while `human`
    live: null, // the conversation's events stream (agent replies, hand-over state)
    agentMessageIds: {}, // agent replies already shown (a reconnect catches up by id)
    stick: true // auto-scroll while the user is at the bottom
  };

  var els = {};

  function randomId() {
    var c = window.crypto || window.msCrypto;
    if (c && typeof c.getRandomValues === 'function') {
      var bytes = new Uint8Array(16);
      c.getRandomValues(bytes);
      var out = '';
      for (var i = 0; i < bytes.length; i++) out += (bytes[i] + 0x100).toString(16).slice(1);
      return out;
    }
    return (Date.now().toString(36) + Math.random().toString(36).slice(2) +
      Math.random().toString(36).slice(2)).slice(0, 32);
  }


  /* ------------------------------------------------------------------ */
  /* HTTP                                                                */
  /* ------------------------------------------------------------------ */

  /** Build an Error from a non-2xx response ({status, code, message} body). */
  async function httpError(res, fallbackKey) {
    var message = '';
    var code = '';
    try {
      var body = await res.json();
      if (body && typeof body === 'object') {
        if (typeof body.message === 'string') message = body.message;
        if (typeof body.code === 'string') code = body.code;
      }
    } catch (e) {
      /* body is not JSON */
    }
    var err = new Error(message || t(fallbackKey || 'httpError', { status: res.status }));
    err.isHttp = true;
    err.status = res.status;
    err.code = code;
    // The server's message is English; the customer reads the code's words in the page's language.
    var key = errorKey(code, res.status);
    err.i18n = key ? { key: key } : { key: fallbackKey || 'httpError', vars: { status: res.status } };
    return err;
  }

  var UNAVAILABLE_CODES = /^(provider_|internal_server_error$|storage_error$|retrieval_error$|tool_error$|config_error$)/;

  /** The i18n key for an error code from the server ({status, code, message}), if we have one. */
  function errorKey(code, status) {
    if (code && Object.prototype.hasOwnProperty.call(I18N.zh, 'error_' + code)) return 'error_' + code;
    if ((code && UNAVAILABLE_CODES.test(code)) || status >= 500) return 'error_unavailable';
    return null;
  }

  function i18nError(key) {
    var err = new Error(t(key));
    err.i18n = { key: key };
    return err;
  }

  var configPromise = null;

  function loadConfig(force) {
    if (configPromise && !force) return configPromise;
    var p = (async function () {
      var res;
      try {
        res = await fetch('/web/config', {
          headers: { Accept: 'application/json' },
          cache: 'no-store',
          credentials: 'same-origin'
        });
      } catch (e) {
        throw i18nError('networkError');
      }
      if (!res.ok) throw await httpError(res, 'configError');
      var cfg;
      try {
        cfg = await res.json();
      } catch (e) {
        throw i18nError('configError');
      }
      if (!cfg || typeof cfg !== 'object') throw i18nError('configError');
      state.config = cfg;
      await openSession(cfg.app);
      applyConfig(cfg);
      return cfg;
    })();
    configPromise = p;
    p.catch(function () {
      if (configPromise === p) configPromise = null; // allow a later retry
    });
    return p;
  }

  /**
   * Open this visitor's session (POST /web/session), or renew the one kept in the browser:
   * the server generates the visitor's id and signs it, so the page can reach only its own
   * conversations. The session is renewed at half its life while the page is open.
   */
  async function openSession(app) {
    var headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    var previous = storageGet(STORAGE_SESSION);
    if (previous) headers.Authorization = 'Bearer ' + previous;
    var res;
    try {
      res = await fetch('/web/session', {
        method: 'POST',
        headers: headers,
        body: JSON.stringify({ app: app }),
        cache: 'no-store',
        credentials: 'same-origin'
      });
    } catch (e) {
      throw i18nError('networkError');
    }
    if (!res.ok) throw await httpError(res, 'configError');
    var session;
    try {
      session = await res.json();
    } catch (e) {
      throw i18nError('configError');
    }
    if (!session || typeof session.token !== 'string' || typeof session.user !== 'string') {
      throw i18nError('configError');
    }
    state.token = session.token;
    state.user = session.user;
    storageSet(STORAGE_SESSION, session.token);
    if (state.renewTimer) clearTimeout(state.renewTimer);
    var life = typeof session.expires_in === 'number' ? session.expires_in : 600;
    state.renewTimer = setTimeout(function () {
      openSession(app).catch(function () { /* the next call renews on 401 */ });
    }, Math.max(30, life / 2) * 1000);
    return session;
  }

  /** A text of the app's in the page's language (``localized`` of /web/config), if it has one. */
  function localizedConfig(field) {
    var all = state.config && state.config.localized;
    var texts = all && typeof all === 'object' ? all[field] : null;
    var text = texts && typeof texts === 'object' ? texts[state.lang] : null;
    return typeof text === 'string' && text.trim() ? text : null;
  }

  /** The app's title in the page's language (the header and the tab). */
  function applyTitle() {
    if (!els.title) return;
    var cfg = state.config;
    var title = localizedConfig('title') ||
      (cfg && typeof cfg.title === 'string' && cfg.title.trim() ? cfg.title : null);
    if (title) {
      els.title.removeAttribute('data-i18n');
      els.title.textContent = title;
      document.title = title;
    } else {
      setI18nText(els.title, 'defaultTitle');
      document.title = t('defaultTitle');
    }
  }

  function applyConfig(cfg) {
    applyTitle();
    if (!state.langExplicit) {
      var l = normLang(cfg.language);
      if (l && l !== state.lang) setLang(l, false);
    }
  }

  /**
   * Call a /v1 endpoint with the session token. On 401 (the session expired),
   * renew the session once and retry. Throws an Error (with .isHttp) for non-2xx answers.
   * opts: {method, json, headers, signal}
   */
  async function api(path, opts, retried) {
    opts = opts || {};
    await loadConfig();
    var headers = { Accept: 'application/json' };
    var extra = opts.headers || {};
    for (var k in extra) {
      if (Object.prototype.hasOwnProperty.call(extra, k)) headers[k] = extra[k];
    }
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    var init = {
      method: opts.method || 'GET',
      headers: headers,
      cache: 'no-store',
      credentials: 'same-origin'
    };
    if (opts.signal) init.signal = opts.signal;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.json);
    }
    var res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw i18nError('networkError');
    }
    if (res.status === 401 && !retried) {
      try {
        if (res.body) res.body.cancel();
      } catch (e) { /* ignore */ }
      await openSession(state.config && state.config.app);
      return api(path, opts, true);
    }
    if (!res.ok) throw await httpError(res);
    return res;
  }

  function withUser(path) {
    return path + (path.indexOf('?') < 0 ? '?' : '&') + 'user=' + encodeURIComponent(state.user);
  }

  var paramsPromise = null;

  function getParameters() {
    if (!paramsPromise) {
      var p = api(withUser('/v1/parameters')).then(function (res) {
        return res.json();
      });
      paramsPromise = p;
      p.catch(function () {
        if (paramsPromise === p) paramsPromise = null;
      });
    }
    return paramsPromise;
  }

  /** Show an Error's text in el (translatable when it is one of ours). */
  function showErrorText(el, err) {
    if (err && err.i18n) {
      setI18nText(el, err.i18n.key, err.i18n.vars);
    } else {
      el.removeAttribute('data-i18n');
      el.textContent = (err && err.message) ? String(err.message) : t('networkError');
    }
  }

  function isAbort(e) {
    return !!e && (e.name === 'AbortError' || e.code === 20);
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

  function i18nEl(tag, className, key, vars) {
    var el = h(tag, className);
    setI18nText(el, key, vars);
    return el;
  }

  function isNearBottom() {
    var m = els.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 60;
  }

  function scrollToBottom(force) {
    if (force) state.stick = true;
    if (!state.stick) return;
    var m = els.messages;
    m.scrollTop = m.scrollHeight;
  }

  function addUserMessage(text) {
    var row = h('div', 'row row-user');
    row.appendChild(i18nEl('span', 'visually-hidden', 'youSaid'));
    row.appendChild(h('div', 'msg user', text));
    els.messages.appendChild(row);
    scrollToBottom(true);
    return row;
  }

  function typingIndicator() {
    var tEl = h('span', 'typing');
    tEl.setAttribute('aria-hidden', 'true');
    tEl.appendChild(h('span'));
    tEl.appendChild(h('span'));
    tEl.appendChild(h('span'));
    return tEl;
  }

  /** Create a bot bubble: {row, bubble, textEl, extras, ...}. */
  function addBotMessage(opts) {
    opts = opts || {};
    var row = h('div', 'row row-bot');
    row.appendChild(i18nEl('span', 'visually-hidden', 'botSaid'));
    var bubble = h('div', 'msg bot');
    var textEl = h('div', 'msg-text');
    bubble.appendChild(textEl);
    var b = { row: row, bubble: bubble, textEl: textEl, textNode: null, typing: null, extras: null };
    if (opts.pending) {
      b.typing = typingIndicator();
      bubble.appendChild(b.typing);
      bubble.setAttribute('aria-busy', 'true');
    }
    if (opts.streaming) bubble.classList.add('streaming');
    row.appendChild(bubble);
    els.messages.appendChild(row);
    scrollToBottom(false);
    return b;
  }

  function removeTyping(b) {
    if (b.typing) {
      b.typing.remove();
      b.typing = null;
    }
  }

  function appendText(b, chunk) {
    if (!chunk) return;
    removeTyping(b);
    if (!b.textNode) {
      b.textEl.removeAttribute('data-i18n');
      b.textEl.textContent = '';
      b.textNode = document.createTextNode('');
      b.textEl.appendChild(b.textNode);
    }
    b.textNode.appendData(chunk);
    scrollToBottom(false);
  }

  function replaceText(b, text) {
    removeTyping(b);
    b.textEl.removeAttribute('data-i18n');
    b.textEl.textContent = '';
    b.textNode = document.createTextNode(text);
    b.textEl.appendChild(b.textNode);
    scrollToBottom(false);
  }

  function hasText(b) {
    return !!(b.textNode && b.textNode.data);
  }

  function setBubbleError(b, err) {
    removeTyping(b);
    b.bubble.classList.add('error');
    var e = b.bubble.querySelector('.msg-error');
    if (!e) {
      e = h('div', 'msg-error');
      e.setAttribute('role', 'alert');
      b.bubble.insertBefore(e, b.textEl.nextSibling);
    }
    showErrorText(e, err);
    scrollToBottom(false);
  }

  function addNote(b, key) {
    var note = i18nEl('div', 'msg-note', key);
    b.bubble.appendChild(note);
  }

  function getExtras(b) {
    if (!b.extras) {
      b.extras = h('div', 'extras');
      b.row.appendChild(b.extras);
    }
    return b.extras;
  }

  /** A standalone error bubble (e.g. parameters could not be loaded). */
  function addErrorMessage(err) {
    var b = addBotMessage();
    setBubbleError(b, err);
    return b;
  }

  /* ------------------------------------------------------------------ */
  /* opening statement & suggestions                                     */
  /* ------------------------------------------------------------------ */

  function showOpening() {
    var epoch = state.epoch;
    var b = addBotMessage({ pending: true });
    state.opening = null;
    getParameters().then(function (params) {
      if (epoch !== state.epoch) return;
      state.opening = { bubble: b, params: params || {}, suggest: true };
      renderOpening();
    }, function (err) {
      if (epoch !== state.epoch) return;
      setI18nText(b.textEl, 'greeting');
      addErrorMessage(err);
    }).then(function () {
      removeTyping(b);
      b.bubble.removeAttribute('aria-busy');
      scrollToBottom(false);
    });
  }

  /**
   * The opening statement and suggested questions, in the page's language: rendered again
   * when the language changes (the suggestions only until the customer has asked something).
   */
  function renderOpening() {
    var o = state.opening;
    if (!o) return;
    var fromServer = typeof o.params.opening_statement === 'string' ? o.params.opening_statement : '';
    var opening = localizedConfig('opening_statement') || fromServer;
    if (opening.trim()) replaceText(o.bubble, opening);
    else setI18nText(o.bubble.textEl, 'greeting');
    var old = o.bubble.row.querySelector('.suggestions');
    if (old) old.remove();
    if (o.suggest) renderSuggestions(o.bubble, o.params.suggested_questions);
  }

  var CHINESE = /[\u3400-\u9fff]/;

  function renderSuggestions(b, questions) {
    if (!Array.isArray(questions)) return;
    var list = questions.filter(function (q) {
      return typeof q === 'string' && q.trim();
    });
    // The questions written in the page's language (all of them if none is).
    var mine = list.filter(function (q) { return CHINESE.test(q) === (state.lang === 'zh'); });
    if (mine.length) list = mine;
    if (!list.length) return;
    var wrap = h('div', 'suggestions');
    wrap.setAttribute('role', 'group');
    wrap.setAttribute('data-i18n-aria', 'suggestionsLabel');
    wrap.setAttribute('aria-label', t('suggestionsLabel'));
    list.forEach(function (q) {
      var btn = h('button', 'suggestion', q);
      btn.type = 'button';
      btn.disabled = !!state.turn;
      btn.addEventListener('click', function () {
        if (state.turn) return;
        sendMessage(q);
        els.input.focus();
      });
      wrap.appendChild(btn);
    });
    b.row.appendChild(wrap);
  }

  function removeSuggestions() {
    if (state.opening) state.opening.suggest = false;
    var nodes = els.messages.querySelectorAll('.suggestions');
    for (var i = 0; i < nodes.length; i++) nodes[i].remove();
  }

  /* ------------------------------------------------------------------ */
  /* sources & feedback                                                  */
  /* ------------------------------------------------------------------ */

  function formatScore(score) {
    var n = typeof score === 'number' ? score : parseFloat(score);
    return isFinite(n) ? n.toFixed(2) : '';
  }

  function renderSources(b, resources) {
    if (!Array.isArray(resources)) return;
    var list = resources.filter(function (r) {
      return r && typeof r === 'object';
    });
    if (!list.length) return;
    list = list.map(function (r, i) {
      return { r: r, i: i };
    }).sort(function (a, z) {
      var pa = typeof a.r.position === 'number' ? a.r.position : Infinity;
      var pz = typeof z.r.position === 'number' ? z.r.position : Infinity;
      return pa === pz ? a.i - z.i : (pa < pz ? -1 : 1);
    }).map(function (x) {
      return x.r;
    });

    var box = h('section', 'sources');
    var titleId = 'src-' + randomId().slice(0, 10);
    var title = i18nEl('h2', 'sources-title', 'sources');
    title.id = titleId;
    box.setAttribute('aria-labelledby', titleId);
    box.appendChild(title);
    var ol = h('ol', 'sources-list');

    list.forEach(function (r) {
      var li = h('li', 'source');
      var name = (typeof r.document_name === 'string' && r.document_name.trim()) ? r.document_name
        : ((typeof r.dataset_name === 'string' && r.dataset_name.trim()) ? r.dataset_name : null);
      var nameEl = name ? h('span', 'source-name', name) : i18nEl('span', 'source-name', 'untitledSource');
      nameEl.title = name || '';
      var score = formatScore(r.score);
      var scoreEl = null;
      if (score) {
        scoreEl = h('span', 'source-score');
        scoreEl.setAttribute('data-i18n-title', 'score');
        scoreEl.title = t('score');
        scoreEl.appendChild(i18nEl('span', 'visually-hidden', 'score'));
        scoreEl.appendChild(document.createTextNode(' ' + score));
      }
      var content = typeof r.content === 'string' ? r.content : '';
      if (content.trim()) {
        var details = document.createElement('details');
        var summary = h('summary');
        summary.appendChild(nameEl);
        if (scoreEl) summary.appendChild(scoreEl);
        details.appendChild(summary);
        details.appendChild(h('div', 'source-content', content));
        li.appendChild(details);
      } else {
        var head = h('div', 'source-head');
        head.appendChild(nameEl);
        if (scoreEl) head.appendChild(scoreEl);
        li.appendChild(head);
      }
      ol.appendChild(li);
    });
    box.appendChild(ol);
    getExtras(b).appendChild(box);
  }

  // A thumb drawn as SVG, not an emoji: many Linux browsers (Debian's chromium among them)
  // ship no emoji font and show an empty box.
  function thumbIcon(down) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '16');
    svg.setAttribute('height', '16');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var path = document.createElementNS(ns, 'path');
    path.setAttribute('d', 'M2 10h4v11H2zM8 21V10l5-8c1.7 0 2.7 1.2 2.3 2.9L14.4 9H20a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.6 21z');
    path.setAttribute('fill', 'currentColor');
    svg.appendChild(path);
    if (down) svg.setAttribute('transform', 'rotate(180)');
    return svg;
  }

  function renderFeedback(b, messageId) {
    var wrap = h('div', 'feedback');
    wrap.setAttribute('role', 'group');
    wrap.setAttribute('data-i18n-aria', 'feedbackGroup');
    wrap.setAttribute('aria-label', t('feedbackGroup'));

    function mkBtn(cls, down, key) {
      var btn = h('button', cls);
      btn.appendChild(thumbIcon(down));
      btn.type = 'button';
      btn.setAttribute('data-i18n-aria', key);
      btn.setAttribute('aria-label', t(key));
      btn.setAttribute('data-i18n-title', key);
      btn.title = t(key);
      btn.setAttribute('aria-pressed', 'false');
      return btn;
    }

    var like = mkBtn('feedback-like', false, 'helpful');
    var dislike = mkBtn('feedback-dislike', true, 'notHelpful');
    var status = h('span', 'feedback-status');
    status.setAttribute('role', 'status');
    var rating = null;
    var busy = false;

    function show(r) {
      like.setAttribute('aria-pressed', r === 'like' ? 'true' : 'false');
      dislike.setAttribute('aria-pressed', r === 'dislike' ? 'true' : 'false');
      like.classList.toggle('active', r === 'like');
      dislike.classList.toggle('active', r === 'dislike');
    }

    async function rate(r) {
      if (busy) return;
      busy = true;
      wrap.setAttribute('aria-busy', 'true');
      var prev = rating;
      var next = rating === r ? null : r;
      show(next);
      status.classList.remove('error');
      try {
        await api('/v1/messages/' + encodeURIComponent(messageId) + '/feedbacks', {
          method: 'POST',
          json: { rating: next, user: state.user }
        });
        rating = next;
        setI18nText(status, next ? 'feedbackThanks' : 'feedbackCleared');
      } catch (err) {
        show(prev);
        status.classList.add('error');
        showErrorText(status, err);
      } finally {
        busy = false;
        wrap.removeAttribute('aria-busy');
      }
    }

    like.addEventListener('click', function () { rate('like'); });
    dislike.addEventListener('click', function () { rate('dislike'); });
    wrap.appendChild(like);
    wrap.appendChild(dislike);
    wrap.appendChild(status);
    getExtras(b).appendChild(wrap);
  }

  /* ------------------------------------------------------------------ */
  /* chat turn                                                           */
  /* ------------------------------------------------------------------ */

  function handleEvent(turn, ev) {
    if (turn.epoch !== state.epoch || turn.discarded) return;
    if (!ev || typeof ev !== 'object') return;
    turn.gotEvent = true;
    if (typeof ev.task_id === 'string' && ev.task_id && !turn.taskId) {
      turn.taskId = ev.task_id;
      if (turn.stopRequested) sendStop(turn);
    }
    if (typeof ev.conversation_id === 'string' && ev.conversation_id) {
      state.conversationId = ev.conversation_id;
    }
    switch (ev.event) {
      case 'message':
      case 'agent_message':
        if (ev.message_id) turn.messageId = String(ev.message_id);
        if (ev.answer !== undefined && ev.answer !== null) appendText(turn.bot, String(ev.answer));
        break;
      case 'message_replace':
        if (ev.message_id) turn.messageId = String(ev.message_id);
        replaceText(turn.bot, ev.answer == null ? '' : String(ev.answer));
        break;
      case 'message_end':
        if (ev.message_id) turn.messageId = String(ev.message_id);
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
        var err = new Error(typeof ev.message === 'string' && ev.message ? ev.message
          : t('httpError', { status: ev.status || 500 }));
        var key = errorKey(typeof ev.code === 'string' ? ev.code : '', ev.status || 500);
        err.i18n = key ? { key: key } : { key: 'httpError', vars: { status: ev.status || 500 } };
        setBubbleError(turn.bot, err);
        break;
      }
      default:
        // ping, workflow/node events, etc.: nothing to show
        break;
    }
  }

  function sendStop(turn) {
    if (turn.stopSent || !turn.taskId) return;
    turn.stopSent = true;
    api('/v1/chat-messages/' + encodeURIComponent(turn.taskId) + '/stop', {
      method: 'POST',
      json: { user: state.user }
    }).catch(function () { /* the abort below still ends the stream */ });
  }

  function stopStreaming() {
    var turn = state.turn;
    if (!turn || turn.stopRequested) return;
    turn.stopRequested = true;
    if (document.activeElement === els.stop) els.input.focus();
    els.stop.disabled = true;
    sendStop(turn); // if task_id is not known yet, sent as soon as it is
    turn.stopTimer = setTimeout(function () {
      if (state.turn === turn) turn.controller.abort();
    }, STOP_GRACE_MS);
  }

  async function readStream(res, onEvent) {
    var parser = createSSEParser(onEvent);
    if (!res.body || typeof res.body.getReader !== 'function') {
      parser.push(await res.text());
      parser.end();
      return;
    }
    var reader = res.body.getReader();
    var decoder = new TextDecoder('utf-8');
    try {
      for (;;) {
        var r = await reader.read();
        if (r.done) break;
        parser.push(decoder.decode(r.value, { stream: true }));
      }
      parser.push(decoder.decode());
      parser.end();
    } finally {
      try {
        reader.releaseLock();
      } catch (e) { /* ignore */ }
    }
  }

  async function sendMessage(query) {
    if (state.turn) return;
    if (typeof query !== 'string' || !query.trim()) return;
    if (query.length > MAX_LEN) return;

    removeSuggestions();
    addUserMessage(query);
    var turn = {
      epoch: state.epoch,
      bot: addBotMessage({ pending: true, streaming: true }),
      controller: new AbortController(),
      taskId: '',
      messageId: '',
      gotEvent: false,
      ended: false,
      error: false,
      stopRequested: false,
      stopSent: false,
      stopTimer: null,
      resources: null,
      handoffState: '',
      discarded: false
    };
    state.turn = turn;
    updateComposer();

    try {
      var res = await api('/v1/chat-messages', {
        method: 'POST',
        headers: { Accept: 'text/event-stream' },
        json: {
          query: query,
          inputs: {},
          user: state.user,
          response_mode: 'streaming',
          conversation_id: state.conversationId || ''
        },
        signal: turn.controller.signal
      });
      var ctype = (res.headers.get('content-type') || '').toLowerCase();
      var onEvent = function (ev) { handleEvent(turn, ev); };
      if (ctype.indexOf('application/json') >= 0) {
        // Blocking-style answer: {event?, message_id, conversation_id, answer, metadata}
        var data = await res.json();
        if (data && typeof data === 'object') {
          if (data.event === 'error') {
            onEvent(data);
          } else {
            var copy = {};
            for (var k in data) {
              if (Object.prototype.hasOwnProperty.call(data, k)) copy[k] = data[k];
            }
            copy.event = 'message_replace';
            onEvent(copy);
            copy.event = 'message_end';
            onEvent(copy);
          }
        }
      } else {
        await readStream(res, onEvent);
      }
      if (!turn.ended && !turn.error && !turn.stopRequested && turn.epoch === state.epoch) {
        turn.interrupted = true;
      }
    } catch (e) {
      if (turn.epoch === state.epoch && !turn.discarded) {
        if (isAbort(e)) {
          if (!turn.stopRequested) turn.interrupted = true;
        } else if (turn.gotEvent && hasText(turn.bot)) {
          turn.interrupted = true;
        } else {
          turn.error = true;
          setBubbleError(turn.bot, e);
        }
      }
    } finally {
      clearTimeout(turn.stopTimer);
      finishTurn(turn);
      if (state.turn === turn) state.turn = null;
      updateComposer();
      if (turn.epoch === state.epoch && !turn.discarded) afterTurnHandoff(turn);
    }
  }

  /** Follow the turn's hand-over state, and listen for the agent once a conversation exists. */
  function afterTurnHandoff(turn) {
    var s = turn.handoffState;
    if (s && s !== state.handoff) setHandoffState(s, undefined, null);
    if (state.conversationId) startLive();
  }

  function finishTurn(turn) {
    var b = turn.bot;
    removeTyping(b);
    b.bubble.classList.remove('streaming');
    b.bubble.removeAttribute('aria-busy');
    if (turn.epoch !== state.epoch || turn.discarded) return;
    if (isHumanState(turn.handoffState) && !turn.error && !turn.stopRequested &&
        !turn.interrupted && !hasText(b)) {
      // A human owns the conversation: the message went to the agent, the bot says nothing.
      b.row.remove();
      return;
    }
    if (!turn.error) {
      if (turn.stopRequested) addNote(b, 'stopped');
      else if (turn.interrupted) addNote(b, 'interrupted');
      else if (!hasText(b)) addNote(b, 'emptyAnswer');
    }
    renderSources(b, turn.resources);
    if (turn.messageId && !turn.error && hasText(b)) renderFeedback(b, turn.messageId);
    scrollToBottom(false);
  }

  function newConversation() {
    var turn = state.turn;
    if (turn) {
      turn.discarded = true;
      turn.stopRequested = true;
      sendStop(turn);
      clearTimeout(turn.stopTimer);
      turn.controller.abort();
    }
    stopLive();
    state.epoch++;
    state.turn = null;
    state.conversationId = '';
    state.agentMessageIds = {};
    setHandoffState('bot', null, null);
    state.stick = true;
    els.messages.textContent = '';
    showOpening();
    updateComposer();
    els.input.focus();
  }

  /* ------------------------------------------------------------------ */
  /* human hand-over: live events, agent replies, satisfaction rating    */
  /* ------------------------------------------------------------------ */

  var LIVE_RETRY_MIN_MS = 1000;
  var LIVE_RETRY_MAX_MS = 30000;

  function isHumanState(s) {
    return s === 'pending_human' || s === 'human';
  }

  function agentNameOf(agent) {
    return (agent && typeof agent === 'object' && typeof agent.name === 'string')
      ? agent.name.trim() : '';
  }

  function updateBanner() {
    var b = els.banner;
    if (!b) return;
    b.classList.remove('pending', 'human');
    if (state.handoff === 'pending_human') {
      setI18nText(b, 'handoffPending');
      b.classList.add('pending');
      b.hidden = false;
    } else if (state.handoff === 'human') {
      if (state.agentName) setI18nText(b, 'handoffHuman', { name: state.agentName });
      else setI18nText(b, 'handoffHumanAnon');
      b.classList.add('human');
      b.hidden = false;
    } else {
      b.hidden = true;
      b.removeAttribute('data-i18n');
      b.textContent = '';
    }
  }

  /**
   * A new hand-over state (from the events stream, or from a turn's metadata).
   * ev is the stream's event: after `resolved` it may carry the closing message and the
   * satisfaction question.
   */
  function setHandoffState(s, agent, ev) {
    if (typeof s !== 'string' || !s) return;
    state.handoff = s;
    var name = agentNameOf(agent);
    if (s === 'human') {
      if (agent !== undefined) state.agentName = name; // undefined: not known, keep it
    } else {
      state.agentName = '';
    }
    updateBanner();
    if (s === 'resolved' && ev) {
      if (typeof ev.message === 'string' && ev.message.trim()) addSystemNote(ev.message);
      if (ev.csat && typeof ev.csat === 'object') showCsatForm(ev.csat.question);
    }
  }

  function addSystemNote(text) {
    var row = h('div', 'row row-system');
    row.appendChild(h('div', 'system-note', text));
    els.messages.appendChild(row);
    scrollToBottom(false);
  }

  /** An agent's reply: {message_id|id, answer, agent: {name}}; shown once per id. */
  function addAgentMessage(m) {
    var id = m.message_id || m.id;
    if (id) {
      id = String(id);
      if (state.agentMessageIds[id]) return;
      state.agentMessageIds[id] = true;
    }
    var text = m.answer == null ? '' : String(m.answer);
    if (!text) return;
    var name = agentNameOf(m.agent);
    var row = h('div', 'row row-bot row-agent');
    var bubble = h('div', 'msg agent');
    var author = h('div', 'msg-author');
    author.appendChild(i18nEl('span', 'msg-author-role', 'agentLabel'));
    if (name) author.appendChild(h('span', 'msg-author-name', name));
    bubble.appendChild(author);
    bubble.appendChild(h('div', 'msg-text', text));
    row.appendChild(bubble);
    els.messages.appendChild(row);
    scrollToBottom(false);
  }

  function handleLiveEvent(live, ev) {
    if (live.stopped || !ev || typeof ev !== 'object') return;
    if (ev.conversation_id && ev.conversation_id !== live.conversationId) return;
    if (ev.event === 'agent_message') {
      addAgentMessage(ev);
    } else if (ev.event === 'handoff_state') {
      setHandoffState(ev.handoff_state, ev.agent, ev);
    }
  }

  /** After a reconnect: show agent replies sent while the stream was down. */
  async function catchUpAgentMessages(live) {
    try {
      var res = await api(withUser('/v1/messages?conversation_id=' +
        encodeURIComponent(live.conversationId) + '&limit=20'));
      var body = await res.json();
      if (live.stopped || !body || !Array.isArray(body.data)) return;
      body.data.forEach(function (m) {
        if (m && typeof m === 'object' && m.agent && !live.stopped) addAgentMessage(m);
      });
    } catch (e) {
      /* best effort: the stream goes on regardless */
    }
  }

  /** Listen to the current conversation's events (one stream at a time). */
  function startLive() {
    if (state.live && state.live.conversationId === state.conversationId) return;
    stopLive();
    if (!state.conversationId) return;
    var live = {
      conversationId: state.conversationId,
      controller: null,
      timer: null,
      failures: 0,
      connected: false,
      stopped: false
    };
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

  async function connectLive(live) {
    if (live.stopped) return;
    live.controller = new AbortController();
    var opened = false;
    try {
      var res = await api(withUser('/v1/conversations/' +
        encodeURIComponent(live.conversationId) + '/events'), {
        headers: { Accept: 'text/event-stream' },
        signal: live.controller.signal
      });
      await readStream(res, function (ev) {
        if (live.stopped) return;
        if (!opened) {
          opened = true;
          live.failures = 0;
          if (live.connected) catchUpAgentMessages(live);
          live.connected = true;
        }
        handleLiveEvent(live, ev);
      });
    } catch (e) {
      if (live.stopped) return;
      // The conversation is gone or not ours (404/403…): retrying will not help.
      if (e && e.isHttp && e.status >= 400 && e.status < 500 && e.status !== 408 &&
          e.status !== 429) {
        if (state.live === live) state.live = null;
        return;
      }
    }
    if (live.stopped) return;
    // Dropped (network, server restart, proxy timeout): reconnect with backoff and jitter.
    var delay = Math.min(LIVE_RETRY_MAX_MS, LIVE_RETRY_MIN_MS * Math.pow(2, live.failures));
    live.failures++;
    delay = Math.round(delay * (0.8 + Math.random() * 0.4));
    live.timer = setTimeout(function () { connectLive(live); }, delay);
  }

  /** The 1-5 rating (and optional comment) the customer is asked for after a resolve. */
  function showCsatForm(question) {
    var conversationId = state.conversationId;
    if (!conversationId) return;
    var old = els.messages.querySelectorAll('.row-csat');
    for (var i = 0; i < old.length; i++) old[i].remove(); // one open rating at a time

    var row = h('div', 'row row-bot row-csat');
    var form = h('form', 'csat');
    form.noValidate = true;
    var qId = 'csat-q-' + randomId().slice(0, 10);
    var q = (typeof question === 'string' && question.trim())
      ? h('p', 'csat-question', question) : i18nEl('p', 'csat-question', 'csatQuestion');
    q.id = qId;
    form.setAttribute('aria-labelledby', qId);
    form.appendChild(q);

    var scores = h('div', 'csat-scores');
    scores.setAttribute('role', 'group');
    scores.setAttribute('data-i18n-aria', 'csatRatingLabel');
    scores.setAttribute('aria-label', t('csatRatingLabel'));
    var rating = 0;
    var buttons = [];
    for (var n = 1; n <= 5; n++) {
      (function (value) {
        var btn = h('button', 'csat-score', String(value));
        btn.type = 'button';
        btn.setAttribute('data-value', String(value));
        btn.setAttribute('aria-pressed', 'false');
        btn.addEventListener('click', function () {
          rating = value;
          buttons.forEach(function (other, idx) {
            var on = idx + 1 === value;
            other.setAttribute('aria-pressed', on ? 'true' : 'false');
            other.classList.toggle('active', idx + 1 <= value);
          });
          submit.disabled = false;
          status.textContent = '';
          status.removeAttribute('data-i18n');
        });
        buttons.push(btn);
        scores.appendChild(btn);
      })(n);
    }
    form.appendChild(scores);

    var commentId = 'csat-c-' + randomId().slice(0, 10);
    var label = i18nEl('label', 'visually-hidden', 'csatCommentLabel');
    label.htmlFor = commentId;
    var comment = h('textarea', 'csat-comment');
    comment.id = commentId;
    comment.rows = 2;
    comment.maxLength = MAX_LEN;
    comment.setAttribute('data-i18n-placeholder', 'csatCommentLabel');
    comment.placeholder = t('csatCommentLabel');
    form.appendChild(label);
    form.appendChild(comment);

    var actions = h('div', 'csat-actions');
    var submit = h('button', 'btn btn-primary csat-submit');
    submit.type = 'submit';
    submit.disabled = true;
    submit.appendChild(i18nEl('span', null, 'csatSubmit'));
    var status = h('span', 'csat-status');
    status.setAttribute('role', 'status');
    actions.appendChild(submit);
    actions.appendChild(status);
    form.appendChild(actions);

    var busy = false;
    form.addEventListener('submit', async function (e) {
      e.preventDefault();
      if (busy) return;
      if (!rating) {
        setI18nText(status, 'csatChoose');
        return;
      }
      busy = true;
      submit.disabled = true;
      form.setAttribute('aria-busy', 'true');
      status.classList.remove('error');
      try {
        var text = comment.value.trim();
        await api('/v1/conversations/' + encodeURIComponent(conversationId) + '/csat', {
          method: 'POST',
          json: { user: state.user, rating: rating, comment: text || null }
        });
        form.textContent = '';
        form.classList.add('done');
        form.appendChild(i18nEl('p', 'csat-thanks', 'csatThanks'));
      } catch (err) {
        status.classList.add('error');
        showErrorText(status, err);
        submit.disabled = false;
      } finally {
        busy = false;
        form.removeAttribute('aria-busy');
      }
    });

    row.appendChild(form);
    els.messages.appendChild(row);
    scrollToBottom(false);
  }

  /* ------------------------------------------------------------------ */
  /* composer                                                            */
  /* ------------------------------------------------------------------ */

  function updateCounter() {
    if (!els.counter) return;
    var n = els.input.value.length;
    els.counter.textContent = n + '/' + MAX_LEN;
    els.counter.setAttribute('aria-label', t('counterLabel', { n: n, max: MAX_LEN }));
    els.counter.classList.toggle('near-limit', n >= MAX_LEN * 0.9 && n < MAX_LEN);
    els.counter.classList.toggle('at-limit', n >= MAX_LEN);
    if (n > MAX_LEN) els.counter.title = t('tooLong', { max: MAX_LEN });
    else els.counter.removeAttribute('title');
  }

  function autoResize() {
    var ta = els.input;
    ta.style.height = 'auto';
    ta.style.height = Math.min(ta.scrollHeight, 180) + 'px';
  }

  function canSend() {
    var v = els.input.value;
    return !state.turn && !!v.trim() && v.length <= MAX_LEN;
  }

  function updateComposer() {
    var streaming = !!state.turn;
    els.send.disabled = !canSend();
    var stopHadFocus = document.activeElement === els.stop;
    els.stop.hidden = !streaming;
    els.stop.disabled = !streaming || !!(state.turn && state.turn.stopRequested);
    if (!streaming && stopHadFocus) els.input.focus();
    var chips = els.messages.querySelectorAll('.suggestion');
    for (var i = 0; i < chips.length; i++) chips[i].disabled = streaming;
  }

  function submitFromInput() {
    if (!canSend()) return;
    var text = els.input.value;
    els.input.value = '';
    updateCounter();
    autoResize();
    if (document.activeElement !== els.input) els.input.focus();
    sendMessage(text);
  }

  /* ------------------------------------------------------------------ */
  /* init                                                                */
  /* ------------------------------------------------------------------ */

  function init() {
    els.title = document.getElementById('app-title');
    els.messages = document.getElementById('messages');
    els.input = document.getElementById('input');
    els.send = document.getElementById('send');
    els.stop = document.getElementById('stop');
    els.form = document.getElementById('composer');
    els.newConv = document.getElementById('new-conversation');
    els.langToggle = document.getElementById('lang-toggle');
    els.counter = document.getElementById('char-counter');
    els.banner = document.getElementById('handoff-banner');

    els.input.setAttribute('maxlength', String(MAX_LEN));
    setLang(state.lang, false);

    els.form.addEventListener('submit', function (e) {
      e.preventDefault();
      submitFromInput();
    });
    els.input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey) {
        // Do not send while an IME (e.g. Chinese pinyin) is composing.
        if (e.isComposing || e.keyCode === 229) return;
        e.preventDefault();
        submitFromInput();
      } else if (e.key === 'Escape' && state.turn) {
        e.preventDefault();
        stopStreaming();
      }
    });
    els.input.addEventListener('input', function () {
      updateCounter();
      autoResize();
      updateComposer();
    });
    els.stop.addEventListener('click', stopStreaming);
    els.newConv.addEventListener('click', newConversation);
    els.langToggle.addEventListener('click', function () {
      setLang(state.lang === 'zh' ? 'en' : 'zh', true);
    });
    els.messages.addEventListener('scroll', function () {
      state.stick = isNearBottom();
    }, { passive: true });

    updateCounter();
    updateComposer();
    loadConfig().catch(function () {
      /* reported through the opening message below; retried on next call */
    });
    showOpening();
    els.input.focus();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
