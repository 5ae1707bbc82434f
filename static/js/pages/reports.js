/*
 * The console's reports: draws the page's charts with the vendored Chart.js (window.Chart, loaded
 * by a classic script before this module) from the series the server rendered into #page-config
 * (config.reports). Every figure is also in the page's tables; the charts only draw them.
 */
import { pageConfig } from '../lib/config.js';
import { t } from '../lib/i18n.js';

const BRAND = '#0b5cab';
const WARN = '#8a4b00';
const OK = '#0f7b3f';
const SOFT = 'rgba(11, 92, 171, 0.25)';

/* The chart's configuration for one series set of the report (null: nothing to draw). */
export function chartConfig(name, series) {
  if (!series || !series.labels || !series.labels.length) return null;
  const axis = (title) => ({ beginAtZero: true, title: { display: true, text: title } });
  if (name === 'waits_by_hour') {
    return {
      type: 'bar',
      data: {
        labels: series.labels,
        datasets: [
          { type: 'line', label: t('chart_mean_wait'), data: series.mean, borderColor: BRAND, backgroundColor: BRAND, yAxisID: 'y' },
          { type: 'line', label: t('chart_p90_wait'), data: series.p90, borderColor: WARN, backgroundColor: WARN, borderDash: [6, 4], yAxisID: 'y' },
          { type: 'bar', label: t('chart_arrivals'), data: series.arrivals, backgroundColor: SOFT, yAxisID: 'y1' },
        ],
      },
      options: {
        scales: {
          y: axis(t('chart_minutes')),
          y1: { ...axis(t('chart_tickets')), position: 'right', grid: { drawOnChartArea: false } },
        },
      },
    };
  }
  if (name === 'accuracy_by_hour') {
    return {
      type: 'line',
      data: {
        labels: series.labels,
        datasets: [
          { label: t('chart_mae'), data: series.mae, borderColor: BRAND, backgroundColor: BRAND },
          { label: t('chart_bias'), data: series.bias, borderColor: WARN, backgroundColor: WARN, borderDash: [6, 4] },
        ],
      },
      options: { scales: { y: { title: { display: true, text: t('chart_minutes') } } } },
    };
  }
  if (name === 'stores_waits') {
    return {
      type: 'bar',
      data: {
        labels: series.labels,
        datasets: [
          { label: t('chart_mean_wait'), data: series.mean, backgroundColor: BRAND },
          { label: t('chart_p90_wait'), data: series.p90, backgroundColor: WARN },
        ],
      },
      options: { scales: { y: axis(t('chart_minutes')) } },
    };
  }
  if (name === 'ratings') {
    return {
      type: 'bar',
      data: { labels: series.labels, datasets: [{ label: t('chart_ratings'), data: series.counts, backgroundColor: OK }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    };
  }
  return null;
}

function draw() {
  const Chart = globalThis.Chart;
  const series = pageConfig().reports || {};
  if (!Chart) return;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  document.querySelectorAll('canvas[data-chart]').forEach((canvas) => {
    const config = chartConfig(canvas.dataset.chart, series[canvas.dataset.chart]);
    if (!config) {
      canvas.closest('.card')?.classList.add('is-empty');
      return;
    }
    const chart = new Chart(canvas, config);
    canvas.dataset.drawn = String(chart.data.datasets.length);
  });
}

if (globalThis.document) draw();
