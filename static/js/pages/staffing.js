/* Manager console, staffing advice: the chart of counters needed per hour (Erlang C and after the
   simulation) against the counters the store has. Its numbers and words come from the page's
   #s-chart-data block (the same figures as the table); Chart.js is the vendored global. */
import { readJSON } from '../lib/config.js';
import { byId } from '../lib/dom.js';

const data = readJSON('s-chart-data');
const canvas = byId('s-chart');
const Chart = globalThis.Chart;

if (canvas && Chart && Array.isArray(data.labels)) {
  const style = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  const text = data.text || {};
  canvas.dataset.ready = 'false';
  const chart = new Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        {
          type: 'bar',
          label: text.advised,
          data: data.advised,
          backgroundColor: colour('--brand', '#1463d8'),
          order: 2,
        },
        {
          type: 'bar',
          label: text.erlang,
          data: data.erlang,
          backgroundColor: colour('--brand-soft', '#dbe8fb'),
          borderColor: colour('--brand', '#1463d8'),
          borderWidth: 1,
          order: 3,
        },
        {
          type: 'line',
          label: text.current,
          data: data.current,
          borderColor: colour('--danger', '#c62828'),
          backgroundColor: colour('--danger', '#c62828'),
          stepped: 'middle',
          pointRadius: 3,
          order: 1,
        },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: text.axis } },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  });
  canvas.dataset.ready = chart ? 'true' : 'false';
}
