// Draws a report's charts with Chart.js from the data embedded in the page. Every chart has
// titled axes with units and a legend; the page shows the same numbers in a table beside it.
(function () {
  "use strict";
  const source = document.getElementById("report-chart-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const common = { animation: false, responsive: true, maintainAspectRatio: false };
  const axis = (text, extra) => ({ title: { display: true, text }, ...extra });
  const wholeTicks = { stepSize: 0.5, callback: (value) => (Number.isInteger(value) ? value : "") };

  function chart(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  }

  chart("chart-structures", {
    type: "bar",
    data: {
      labels: data.structures.map((s) => s.label),
      datasets: [{ label: "Severity-weighted incident-hours in the window", data: data.structures.map((s) => s.hours) }],
    },
    options: {
      ...common,
      indexAxis: "y",
      scales: { x: axis("Severity-weighted incident-hours", { beginAtZero: true }), y: axis("Structure") },
    },
  });

  const levels = [...new Set(data.remediation.map((r) => r.level))];
  const series = [...new Set(data.remediation.map((r) => `${r.kind}: ${r.state}`))].sort();
  chart("chart-remediation", {
    type: "bar",
    data: {
      labels: levels,
      datasets: series.map((name) => ({
        label: name,
        data: levels.map((level) => data.remediation
          .filter((r) => r.level === level && `${r.kind}: ${r.state}` === name)
          .reduce((n, r) => n + r.count, 0)),
      })),
    },
    options: {
      ...common,
      scales: {
        x: axis("Leverage level (deepest first)", { stacked: true }),
        y: axis("Action items", { stacked: true, beginAtZero: true, ticks: { precision: 0 } }),
      },
    },
  });

  const mix = data.shape_mix;
  chart("chart-shapes", {
    type: "bar",
    data: {
      labels: mix.periods.map((p) => p.label),
      datasets: mix.shapes.map((name, i) => ({ label: name, data: mix.periods.map((p) => p.counts[i]) })),
    },
    options: {
      ...common,
      scales: {
        x: axis(mix.bucket.charAt(0).toUpperCase() + mix.bucket.slice(1), { stacked: true }),
        y: axis("Incidents", { stacked: true, beginAtZero: true, ticks: { precision: 0 } }),
      },
    },
  });

  // Incidents in the same cell are spread a little around it, so that each dot is one
  // incident and can be pointed at.
  const seen = {};
  const points = data.perrow_points.map((p) => {
    const key = `${p.complexity},${p.coupling}`;
    const n = (seen[key] = (seen[key] || 0) + 1) - 1;
    const angle = n * 2.4;
    const radius = n ? 0.12 + 0.04 * Math.sqrt(n) : 0;
    return { x: p.complexity + radius * Math.cos(angle), y: p.coupling + radius * Math.sin(angle), title: p.title,
      complexity: p.complexity, coupling: p.coupling };
  });
  chart("chart-perrow", {
    type: "scatter",
    data: { datasets: [{ label: "An incident of the window", data: points, pointRadius: 5 }] },
    options: {
      ...common,
      plugins: {
        tooltip: {
          callbacks: {
            label: (ctx) => `${ctx.raw.title} (complexity ${ctx.raw.complexity}, coupling ${ctx.raw.coupling})`,
          },
        },
      },
      scales: {
        x: axis("Interactive complexity (1 linear – 5 complex)", { min: 0.5, max: 5.5, ticks: wholeTicks }),
        y: axis("Coupling (1 loose – 5 tight)", { min: 0.5, max: 5.5, ticks: wholeTicks }),
      },
    },
  });
})();
