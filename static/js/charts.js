/* Draws every <canvas data-chart="ID"> from the JSON spec embedded with json_script (id=ID).
   Spec: {kind: line|bar|candles, title, labels, horizontal, stacked,
          datasets: [{label, data, axis: y|y2, kind, color}]}. No page carries its own script. */
(function () {
  "use strict";
  var PALETTE = ["#2b6cb0", "#dd6b20", "#2f855a", "#805ad5", "#c53030", "#319795", "#b7791f"];

  var COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumSignificantDigits: 3 });

  function color(ds, i) { return ds.color || PALETTE[i % PALETTE.length]; }

  // Axis labels: 300,000,000 reads as 300M (the tables' compact money), small values unchanged.
  function compact(value) {
    return Math.abs(value) >= 10000 ? COMPACT.format(value) : this.getLabelForValue(value);
  }

  function scales(spec) {
    var hasY2 = spec.datasets.some(function (d) { return d.axis === "y2"; });
    var valueAxis = spec.horizontal ? "x" : "y";
    var out = {};
    out[valueAxis] = { stacked: !!spec.stacked, ticks: { maxTicksLimit: 8, callback: compact },
                       title: { display: !!spec.y_label, text: spec.y_label } };
    out[spec.horizontal ? "y" : "x"] = { stacked: !!spec.stacked, ticks: { maxTicksLimit: 14, autoSkip: true } };
    if (hasY2) { out.y2 = { position: "right", grid: { drawOnChartArea: false }, ticks: { callback: compact } }; }
    return out;
  }

  function standard(spec) {
    return {
      type: spec.kind === "line" ? "line" : "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (ds, i) {
          var c = color(ds, i);
          return {
            type: ds.kind === "line" ? "line" : "bar",
            label: ds.label, data: ds.data, yAxisID: ds.axis === "y2" ? "y2" : undefined,
            borderColor: c, backgroundColor: c, borderWidth: ds.kind === "line" ? 1.5 : 0,
            pointRadius: ds.kind === "line" && spec.labels.length > 40 ? 0 : 2, spanGaps: true
          };
        })
      },
      options: { indexAxis: spec.horizontal ? "y" : "x", scales: scales(spec),
                 // One series coloured bar by bar: its title carries the key, a legend swatch would mislead.
                 plugins: { legend: { display: !(spec.datasets.length === 1 && Array.isArray(spec.datasets[0].color)) } } }
    };
  }

  function candles(spec) {
    var get = function (name) { return (spec.datasets.find(function (d) { return d.label === name; }) || {data: []}).data; };
    var o = get("open"), h = get("high"), l = get("low"), c = get("close");
    var up = c.map(function (v, i) { return v >= o[i]; });
    var tint = up.map(function (u) { return u ? "#2f855a" : "#c53030"; });
    return {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: [
          { label: "high–low", data: h.map(function (v, i) { return [l[i], v]; }), backgroundColor: tint,
            barPercentage: 0.15, categoryPercentage: 1.0, grouped: false },
          { label: "open–close", data: o.map(function (v, i) { return [Math.min(v, c[i]), Math.max(v, c[i])]; }),
            backgroundColor: tint, barPercentage: 0.8, categoryPercentage: 1.0, grouped: false },
          { type: "line", label: "close", data: c, borderColor: "#4a5568", borderWidth: 1, pointRadius: 0 }
        ]
      },
      options: { scales: { y: { beginAtZero: false }, x: { ticks: { maxTicksLimit: 12 } } },
                 plugins: { legend: { display: false } } }
    };
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var config = spec.kind === "candles" ? candles(spec) : standard(spec);
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false } }, config.options);
    config.options.plugins = Object.assign({ title: { display: !!spec.title, text: spec.title } },
      config.options.plugins || {});
    new Chart(canvas, config);
  }

  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var text = btn.dataset.copy;
        var done = function () { btn.textContent = "copied"; setTimeout(function () { btn.textContent = "copy"; }, 1200); };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, done);
        } else {
          var area = document.createElement("textarea");
          area.value = text; document.body.appendChild(area); area.select();
          try { document.execCommand("copy"); } catch (e) { /* ignore */ }
          document.body.removeChild(area); done();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
    copyButtons();
  });
})();
