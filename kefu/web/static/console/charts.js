/*
 * Small SVG charts for the console's analytics: stacked bars per day, lines of rates, and
 * horizontal bars of counts. Written by hand (about 150 lines) rather than vendoring a
 * charting library: the console has no build step, its CSP allows only its own scripts,
 * and these three shapes are all it draws. Every label is set with textContent.
 */
(function () {
  'use strict';

  var NS = 'http://www.w3.org/2000/svg';

  function node(tag, attrs, text) {
    var n = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) n.textContent = String(text);
    return n;
  }

  function svg(width, height, label) {
    return node('svg', {
      viewBox: '0 0 ' + width + ' ' + height, width: '100%', role: 'img', 'aria-label': label
    });
  }

  /** A readable tick for a maximum: 0, then up to 4 round steps. */
  function niceMax(value) {
    if (value <= 0) return 1;
    var step = Math.pow(10, Math.floor(Math.log10(value)));
    var m = [1, 2, 5, 10].map(function (f) { return f * step; }).find(function (s) { return s >= value; });
    return m || value;
  }

  function legend(root, series, x, y) {
    series.forEach(function (s, i) {
      var g = node('g', { 'class': 'legend' });
      g.appendChild(node('rect', { x: x + i * 220, y: y - 13, width: 14, height: 14, 'class': s.cls }));
      g.appendChild(node('text', { x: x + i * 220 + 20, y: y }, s.label));
      root.appendChild(g);
    });
  }

  /** Bars per day, each split into series (stacked). days: ['2026-12-01', …]. */
  function stackedBars(box, days, series, label) {
    var W = 640, H = 260, L = 48, B = 34, T = 34;
    var root = svg(W, H, label);
    var totals = days.map(function (_, i) {
      return series.reduce(function (sum, s) { return sum + (s.values[i] || 0); }, 0);
    });
    var max = niceMax(Math.max.apply(null, totals.concat([0])));
    var slot = (W - L) / Math.max(days.length, 1);
    var bar = Math.max(2, Math.min(40, slot * 0.7));
    root.appendChild(node('line', { x1: L, y1: H - B, x2: W, y2: H - B, 'class': 'axis' }));
    root.appendChild(node('text', { x: L - 4, y: T + 4, 'text-anchor': 'end', 'class': 'tick' }, max));
    root.appendChild(node('text', { x: L - 4, y: H - B, 'text-anchor': 'end', 'class': 'tick' }, 0));
    days.forEach(function (day, i) {
      var x = L + i * slot + (slot - bar) / 2;
      var y = H - B;
      series.forEach(function (s) {
        var v = s.values[i] || 0;
        var h = (H - B - T) * v / max;
        if (h > 0) {
          var rect = node('rect', { x: x, y: y - h, width: bar, height: h, 'class': s.cls });
          rect.appendChild(node('title', {}, day + ' · ' + s.label + ': ' + v));
          root.appendChild(rect);
        }
        y -= h;
      });
      if (days.length <= 14 || i % Math.ceil(days.length / 14) === 0) {
        root.appendChild(node('text', {
          x: x + bar / 2, y: H - B + 22, 'text-anchor': 'middle', 'class': 'tick'
        }, day.slice(5)));
      }
    });
    legend(root, series, L, 18);
    box.textContent = '';
    box.appendChild(root);
  }

  /** Lines of rates (0…1) per day; a missing value (null) breaks the line. */
  function rateLines(box, days, series, label) {
    var W = 640, H = 260, L = 48, B = 34, T = 34;
    var root = svg(W, H, label);
    var slot = (W - L) / Math.max(days.length, 1);
    function px(i) { return L + i * slot + slot / 2; }
    function py(v) { return H - B - (H - B - T) * v; }
    [0, 0.5, 1].forEach(function (v) {
      root.appendChild(node('line', { x1: L, y1: py(v), x2: W, y2: py(v), 'class': v ? 'grid' : 'axis' }));
      root.appendChild(node('text', { x: L - 4, y: py(v) + 4, 'text-anchor': 'end', 'class': 'tick' },
        Math.round(v * 100) + '%'));
    });
    series.forEach(function (s) {
      var d = '';
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) return;
        d += (d && s.values[i - 1] !== null && s.values[i - 1] !== undefined ? ' L' : ' M') + px(i) + ' ' + py(v);
        var dot = node('circle', { cx: px(i), cy: py(v), r: 3, 'class': s.cls });
        dot.appendChild(node('title', {}, days[i] + ' · ' + s.label + ': ' + Math.round(v * 100) + '%'));
        root.appendChild(dot);
      });
      if (d) root.insertBefore(node('path', { d: d.trim(), 'class': 'line ' + s.cls }), root.firstChild);
    });
    days.forEach(function (day, i) {
      if (days.length <= 14 || i % Math.ceil(days.length / 14) === 0) {
        root.appendChild(node('text', { x: px(i), y: H - B + 22, 'text-anchor': 'middle', 'class': 'tick' },
          day.slice(5)));
      }
    });
    legend(root, series, L, 18);
    box.textContent = '';
    box.appendChild(root);
  }

  /** ``text`` cut to about ``room`` Latin letters wide (a Chinese character counts two). */
  function fit(text, room) {
    var used = 0;
    for (var i = 0; i < text.length; i++) {
      used += text.charCodeAt(i) > 0x2e80 ? 2 : 1;
      if (used > room) return text.slice(0, i) + '…';
    }
    return text;
  }

  /** Horizontal bars: [{label, value}], the largest first; `empty` when there are none. */
  function barList(box, items, label, empty) {
    box.textContent = '';
    if (!items.length) {
      var p = document.createElement('p');
      p.className = 'muted';
      p.textContent = empty;
      box.appendChild(p);
      return;
    }
    var W = 640, row = 32, L = 230;
    var root = svg(W, items.length * row + 8, label);
    var max = Math.max.apply(null, items.map(function (i) { return i.value; }).concat([1]));
    items.forEach(function (item, i) {
      var y = 4 + i * row;
      root.appendChild(node('text', { x: L - 8, y: y + 21, 'text-anchor': 'end', 'class': 'tick' },
        fit(item.label, 24)));
      var w = Math.max(2, (W - L - 60) * item.value / max);
      var rect = node('rect', { x: L, y: y + 3, width: w, height: row - 8, 'class': 'bar' });
      rect.appendChild(node('title', {}, item.label + ': ' + item.value));
      root.appendChild(rect);
      root.appendChild(node('text', { x: L + w + 6, y: y + 21, 'class': 'tick' }, item.value));
    });
    box.appendChild(root);
  }

  window.KEFU_CHARTS = { stackedBars: stackedBars, rateLines: rateLines, barList: barList };
})();
