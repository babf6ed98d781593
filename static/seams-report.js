// Draws a report's charts with Chart.js from the snapshot data embedded in the page.
(function () {
  "use strict";
  const source = document.getElementById("report-chart-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const SHAPES = ["cascade", "concentration", "worst-case-interaction", "recurrence"];
  const common = { animation: false, responsive: true, maintainAspectRatio: false };

  function chart(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  }

  chart("chart-structures", {
    type: "bar",
    data: {
      labels: data.structures.map((s) => s.label),
      datasets: [{ label: "Incident-hours in the window", data: data.structures.map((s) => s.hours) }],
    },
    options: { ...common, indexAxis: "y" },
  });

  const levels = [...new Set(data.remediation.map((r) => r.leverage_level))];
  const series = [["component_patch", "done"], ["component_patch", "open"],
    ["structural_fix", "done"], ["structural_fix", "open"]];
  chart("chart-remediation", {
    type: "bar",
    data: {
      labels: levels,
      datasets: series.map(([kind, state]) => ({
        label: `${kind.replace("_", " ")} (${state})`,
        data: levels.map((level) => data.remediation
          .filter((r) => r.leverage_level === level && r.kind === kind && r.state === state)
          .reduce((n, r) => n + r.count, 0)),
      })),
    },
    options: { ...common, scales: { x: { stacked: true }, y: { stacked: true } } },
  });

  chart("chart-shapes", {
    type: "line",
    data: {
      labels: data.shape_mix.map((m) => m.month),
      datasets: SHAPES.map((shape) => ({ label: shape, data: data.shape_mix.map((m) => m[shape] || 0) })),
    },
    options: common,
  });

  chart("chart-perrow", {
    type: "bubble",
    data: {
      datasets: [{
        label: "Incidents (complexity × coupling)",
        data: data.perrow_cells.map((c) => ({ x: c.complexity, y: c.coupling, r: 4 + 3 * Math.sqrt(c.count) })),
      }],
    },
    options: {
      ...common,
      scales: {
        x: { min: 0.5, max: 5.5, title: { display: true, text: "Interactive complexity" } },
        y: { min: 0.5, max: 5.5, title: { display: true, text: "Coupling" } },
      },
    },
  });
})();
