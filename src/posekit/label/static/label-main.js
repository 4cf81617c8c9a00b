// The labeling view: wires the frame source, canvas, strip, sidebar, saver and input.
import { api } from './api.js';
import { bodypartColors, SHAPES, UNIQUE_SHAPE } from './colors.js';
import { Controller } from './controller.js';
import { FrameSource } from './frames.js';
import { attachInput, SHORTCUTS } from './input.js';
import { Panel } from './panel.js';
import { Saver } from './saver.js';
import { FrameStrip } from './strip.js';
import { CanvasView } from './view.js';

const POLL_MS = 10000;
const SETTINGS_KEY = 'posekit-label-settings';

function loadSettings(project) {
  const defaults = { markerSize: Math.min(40, Math.max(10, project.dotsize || 10)),
    brightness: 100, contrast: 100, predictions: true };
  try {
    return { ...defaults, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}') };
  } catch (err) {
    return defaults;
  }
}

function buildHelp() {
  const body = document.querySelector('#help tbody');
  for (const [keys, what] of SHORTCUTS) {
    const row = document.createElement('tr');
    const k = document.createElement('td');
    k.className = 'keys';
    k.textContent = keys;
    const w = document.createElement('td');
    w.textContent = what;
    row.append(k, w);
    body.append(row);
  }
}

async function main() {
  const params = new URLSearchParams(window.location.search);
  const folder = params.get('folder');
  const panelMessage = document.getElementById('message');
  if (!folder) {
    panelMessage.textContent = 'No folder given: open a folder from the overview page.';
    panelMessage.hidden = false;
    return;
  }
  document.title = `posekit — ${folder}`;
  const project = await api('/api/project');
  const allBodyparts = [...project.bodyparts, ...project.unique_bodyparts];
  const shapeOf = (ind) => (ind === 'single' ? UNIQUE_SHAPE
    : SHAPES[Math.max(0, project.individuals.indexOf(ind)) % SHAPES.length]);
  const settings = loadSettings(project);
  const view = new CanvasView(document.getElementById('canvas'), {
    colors: bodypartColors(allBodyparts), shapeOf, edges: project.edges,
    skeletonColor: project.skeleton_color || 'black', individuals: project.individuals,
    bodyparts: project.bodyparts, unique: project.unique_bodyparts,
  });
  view.settings = settings;
  view.pcutoff = project.pcutoff;
  const source = new FrameSource(folder);
  await source.loadSummary();
  let controller = null;
  const saveSettings = () => {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
    if (controller) controller.redraw();
  };
  const panel = new Panel({ project, folder, view, settings, onSettings: saveSettings });
  const saver = new Saver(folder, {
    onSaved: (model, frame) => {
      source.setStatus(frame.index, frame.status === 'empty' && frame.machine ? 'm'
        : frame.status[0]);
      if (controller) controller.redraw();
    },
    onConflict: (model, current, message) => {
      if (controller) controller.redraw();
      panel.conflict(model, message, (keepMine) => {
        saver.resolve(model, keepMine);
        if (controller) controller.changed(false);
      });
    },
    onError: (model, err) => panel.message(`Frame ${model.name} not saved: ${err.message}`,
      'error'),
    onChange: () => panel.saveState(saver.state),
  });
  const strip = new FrameStrip(document.getElementById('strip'), source,
    (index) => controller.goTo(index));
  controller = new Controller({ project, folder, source, saver, view, strip, panel });
  buildHelp();
  const help = document.getElementById('help');
  const toggleHelp = (show) => { help.hidden = show === undefined ? !help.hidden : !show; };
  const togglePredictions = () => {
    settings.predictions = !settings.predictions;
    document.getElementById('show-predictions').checked = settings.predictions;
    saveSettings();
  };
  attachInput(document.getElementById('canvas'), controller, { toggleHelp, togglePredictions });
  wireButtons(controller, toggleHelp);
  new ResizeObserver(() => { view.resize(); view.draw(); })
    .observe(document.getElementById('stage'));
  window.addEventListener('pagehide', () => saver.flushOnExit());
  window.addEventListener('beforeunload', (event) => {
    saver.flush();
    if (saver.hasUnsaved) {
      event.preventDefault();
      event.returnValue = '';
    }
  });
  setInterval(() => poll(controller), POLL_MS);
  exposeForTests(controller);
  if (!source.total) {
    panel.message('This folder has no frames yet: extract frames from the overview page.',
      'info');
    controller.redraw();
    return;
  }
  const start = params.get('frame');
  let index = 0;
  if (start) {
    for (let i = 0; i < source.total; i += 1) {
      if ((await source.name(i)) === start) { index = i; break; }
    }
  } else {
    index = Math.max(0, source.status.search(/[epm]/));
  }
  await controller.goTo(index);
}

function wireButtons(c, toggleHelp) {
  const on = (id, fn) => document.getElementById(id).addEventListener('click', fn);
  on('prev-frame', () => c.next(-1));
  on('next-frame', () => c.next(1));
  on('next-open', () => c.nextOpen(1));
  on('undo', () => c.undo());
  on('redo', () => c.redo());
  on('fit', () => { c.view.fit(); c.view.draw(); });
  on('help-button', () => toggleHelp());
  on('help-close', () => toggleHelp(false));
  on('accept-predictions', () => c.acceptPredictions());
  on('hide-rest', () => c.hideRest());
  document.getElementById('goto-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = document.getElementById('goto');
    const n = Number(input.value);
    if (Number.isInteger(n) && n >= 1) c.goTo(n - 1);
    input.blur();
  });
}

// Someone else (another tab) may have labeled frames: refresh the strip and this frame.
async function poll(c) {
  if (document.hidden) return;
  try {
    const version = c.source.version;
    const summary = await api(`/api/folders/${encodeURIComponent(c.folder)}`);
    if (summary.version !== version) {
      c.source.apply(summary);
      if (c.model) await c.refresh(c.index, c.model.name, 0);
      c.redraw();
    }
  } catch (err) {
    c.panel.saveState(c.saver.state);
  }
}

// A small read-only window into the app for the browser tests.
function exposeForTests(c) {
  window.posekit = {
    view: () => ({ scale: c.view.scale, tx: c.view.tx, ty: c.view.ty }),
    frame: () => (c.model ? { name: c.model.name, index: c.index, rev: c.model.rev,
      points: Object.fromEntries([...c.model.points].map(([k, v]) => [k.replace('\u0001', '/'), v])),
      hidden: [...c.model.hidden].map((k) => k.replace('\u0001', '/')) } : null),
    selected: () => (c.view.selected || '').replace('\u0001', '/'),
    saveState: () => c.saver.state,
    status: () => c.source.status,
  };
}

main().catch((err) => {
  const node = document.getElementById('message');
  node.textContent = err.message;
  node.className = 'message error';
  node.hidden = false;
});
