/* crossinvest pages: draw every [data-chart] from the JSON embedded beside it.
   No network access but our own server: ECharts and the map are served from /static/vendor. */
(function () {
  "use strict";
  var charts = {};
  // ready: every chart created; finished[id]: that chart's first rendering (animation included) is done
  var finished = {};
  window.__ci = { charts: charts, finished: finished, ready: false };
  var lang = document.body.dataset.lang || "zh";
  var FONT = "'Noto Sans CJK SC', 'Noto Sans SC', sans-serif";

  function fmt(v, digits) {
    if (v === null || v === undefined) return "—";
    return Number(v).toLocaleString("zh-CN", { maximumFractionDigits: digits === undefined ? 2 : digits });
  }
  function pct(v) { return v === null || v === undefined ? "" : (v * 100).toFixed(1) + "%"; }
  function short(name) { return name && name.length > 12 ? name.slice(0, 11) + "…" : name; }
  function source(el) { return JSON.parse(document.getElementById(el.dataset.source).textContent); }

  function bar(d) {
    return {
      textStyle: { fontFamily: FONT },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return fmt(v); } },
      legend: { top: 0 },
      grid: { left: 70, right: 20, top: 36, bottom: 70 },
      xAxis: { type: "category", data: d.categories, axisLabel: { rotate: d.categories.length > 6 ? 35 : 0, interval: 0 } },
      yAxis: { type: "value" },
      series: d.series.map(function (s) { return { name: s.name, type: "bar", data: s.data }; })
    };
  }

  function trend(d) {
    return {
      textStyle: { fontFamily: FONT },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return fmt(v); } },
      legend: { top: 0 },
      grid: { left: 70, right: 60, top: 36, bottom: 40 },
      xAxis: { type: "category", data: d.categories },
      yAxis: [{ type: "value", name: lang === "en" ? "10k CNY" : "万元" }, { type: "value", name: lang === "en" ? "count" : "家" }],
      series: d.series.map(function (s) {
        return { name: s.name, type: s.axis ? "line" : "bar", yAxisIndex: s.axis || 0, data: s.data };
      })
    };
  }

  function map(d) {
    var max = 1;
    d.data.forEach(function (x) { if (x.value > max) max = x.value; });
    return {
      textStyle: { fontFamily: FONT },
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          if (!p.data) return p.name;
          return p.data.label + "<br>" + d.name + "：" + fmt(p.data.value) +
            "<br>" + (lang === "en" ? "Enterprises" : "企业数") + "：" + fmt(p.data.enterprises, 0);
        }
      },
      visualMap: { min: 0, max: max, left: 10, bottom: 10, calculable: true, text: [fmt(max, 0), "0"],
                   inRange: { color: ["#e3eef9", "#6baed6", "#08519c"] } },
      series: [{
        type: "map", map: "china", nameProperty: "code", roam: false, selectedMode: false,
        data: d.data.map(function (x) {
          var item = { name: x.name, value: x.value, label: x.label, enterprises: x.enterprises, link: x.link };
          if (x.name === d.selected) item.itemStyle = { borderColor: "#d94801", borderWidth: 2 };
          return item;
        }),
        emphasis: { label: { show: false }, itemStyle: { areaColor: "#fdae6b" } }
      }]
    };
  }

  function graph(d) {
    var byDepth = {};
    d.nodes.forEach(function (n) { (byDepth[n.depth] = byDepth[n.depth] || []).push(n); });
    var nodes = [];
    Object.keys(byDepth).forEach(function (depth) {
      var row = byDepth[depth];
      row.forEach(function (n, i) {
        nodes.push({
          id: n.id, name: n.name, x: (i - (row.length - 1) / 2) * 240, y: -depth * 120,
          value: n.effective_share, symbolSize: n.depth === 0 ? 46 : 30,
          itemStyle: { color: n.depth === 0 ? "#d94801" : (n.is_person ? "#9e9ac8" : "#3182bd") },
          label: { show: true, position: "bottom",
                   formatter: short(n.name) + (n.depth ? "\n" + pct(n.effective_share) : "") }
        });
      });
    });
    return {
      textStyle: { fontFamily: FONT },
      tooltip: { formatter: function (p) { return p.dataType === "edge" ? pct(p.data.value) : p.name + " " + pct(p.value); } },
      series: [{
        type: "graph", layout: "none", roam: true, data: nodes, edgeSymbol: ["none", "arrow"],
        links: d.edges.map(function (e) {
          return { source: e.source, target: e.target, value: e.share_ratio,
                   label: { show: true, formatter: pct(e.share_ratio) } };
        }),
        lineStyle: { color: "#888", width: 1.5 }
      }]
    };
  }

  var BUILD = { bar: bar, trend: trend, map: map, graph: graph };

  function draw(el, geo) {
    var kind = el.dataset.chart;
    var d = source(el);
    if (kind === "map" && !geo) return;
    if ((kind === "bar" || kind === "trend") && (!d.categories || !d.categories.length)) { el.classList.add("nodata"); return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.on("finished", function () { finished[el.id] = true; });
    chart.setOption(BUILD[kind](d));
    if (kind === "map") {
      chart.on("click", function (p) { if (p.data && p.data.link) window.location.href = p.data.link; });
    }
    charts[el.id] = chart;
  }

  function start() {
    var els = Array.prototype.slice.call(document.querySelectorAll("[data-chart]"));
    var needsMap = els.some(function (el) { return el.dataset.chart === "map"; });
    var pending = needsMap
      ? fetch("/static/vendor/china.geo.json").then(function (r) { return r.json(); })
          .then(function (geo) { echarts.registerMap("china", geo); return geo; })
      : Promise.resolve(null);
    pending.then(function (geo) {
      els.forEach(function (el) { try { draw(el, geo); } catch (e) { console.error(el.id, e); } });
      window.__ci.ready = true;
    });
    window.addEventListener("resize", function () { Object.values(charts).forEach(function (c) { c.resize(); }); });
  }

  if (typeof echarts === "undefined") {
    console.error("ECharts missing: run `make setup` (python -m crossinvest.web.assets)");
    window.__ci.ready = true;
    return;
  }
  start();
})();
