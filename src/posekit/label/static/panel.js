// The sidebar and top bar: individuals, bodyparts with their state, predictions,
// display settings, frame position, save state and messages.
import { el } from './api.js';
import { likelihoodColor, swatch, UNIQUE_SHAPE } from './colors.js';
import { slotKey } from './model.js';

const SAVE_TEXT = {
  saved: 'All changes saved',
  pending: 'Saving…',
  saving: 'Saving…',
  offline: 'Server unreachable: edits kept in this tab, retrying…',
  error: 'Not saved (see message)',
  conflict: 'Conflict: choose a version',
};

export class Panel {
  constructor({ project, folder, view, settings, onSettings }) {
    Object.assign(this, { project, folder, view, settings, onSettings });
    this.$ = (id) => document.getElementById(id);
    this.$('folder-name').textContent = folder;
    this.controller = null;
    this.buildIndividuals();
    this.buildSettings();
    this.messageTimer = null;
  }

  buildIndividuals() {
    const box = this.$('individuals');
    if (!this.project.multi_animal) {
      box.hidden = true;
      return;
    }
    const list = this.$('individual-list');
    this.individualButtons = new Map();
    for (const ind of this.project.individuals) {
      const button = el('button', { type: 'button', class: 'individual', 'data-individual': ind,
        onclick: () => this.controller.setIndividual(ind) },
      swatch(this.view.options.shapeOf(ind), '#d0d0d0'), ` ${ind}`);
      this.individualButtons.set(ind, button);
      list.append(button);
    }
  }

  buildSettings() {
    const bind = (id, key, format) => {
      const input = this.$(id);
      const output = this.$(`${id}-value`);
      input.value = this.settings[key];
      output.textContent = format(this.settings[key]);
      input.addEventListener('input', () => {
        this.settings[key] = Number(input.value);
        output.textContent = format(this.settings[key]);
        this.onSettings();
      });
    };
    bind('marker-size', 'markerSize', (v) => `${v}px`);
    bind('brightness', 'brightness', (v) => `${v}%`);
    bind('contrast', 'contrast', (v) => `${v}%`);
    const predictions = this.$('show-predictions');
    predictions.checked = this.settings.predictions;
    predictions.addEventListener('change', () => {
      this.settings.predictions = predictions.checked;
      this.onSettings();
    });
    this.$('reset-display').addEventListener('click', () => {
      Object.assign(this.settings, { brightness: 100, contrast: 100 });
      this.$('brightness').value = 100;
      this.$('contrast').value = 100;
      this.$('brightness-value').textContent = '100%';
      this.$('contrast-value').textContent = '100%';
      this.onSettings();
    });
  }

  bodypartRow(c, key, number) {
    const [ind, bp] = key.split('\u0001');
    const state = c.model ? c.model.state(key) : 'empty';
    const shape = ind === 'single' ? UNIQUE_SHAPE : this.view.options.shapeOf(ind);
    const mark = { placed: '●', hidden: 'not visible', empty: '' }[state];
    const predicted = c.model && state === 'empty' && c.model.machine.get(key);
    const row = el('li', { class: `bodypart ${state}${key === this.view.selected ? ' selected' : ''}`,
      'data-bodypart': bp, 'data-individual': ind, onclick: () => c.select(key) },
    el('span', { class: 'number' }, number <= 9 ? number : ''),
    swatch(shape, this.view.options.colors.get(bp)),
    el('span', { class: 'name' }, bp),
    el('span', { class: 'state' }, mark));
    if (predicted) {
      const p = predicted[2];
      const badge = el('span', { class: 'likelihood' }, p === null ? '?' : p.toFixed(2));
      badge.style.background = likelihoodColor(p);
      row.append(badge);
    }
    return row;
  }

  update(c) {
    this.controller = c;
    const list = this.$('bodypart-list');
    list.replaceChildren(...c.slots().map((key, i) => this.bodypartRow(c, key, i + 1)));
    if (this.individualButtons) {
      for (const [ind, button] of this.individualButtons) {
        button.classList.toggle('selected', ind === c.individual);
        const done = this.project.bodyparts.every((bp) => c.model
          && c.model.state(slotKey(ind, bp)) !== 'empty');
        button.classList.toggle('done', done);
      }
    }
    const { source } = c;
    this.$('frame-position').textContent = c.model
      ? `Frame ${c.index + 1} / ${source.total} · ${c.model.name}` : `${source.total} frames`;
    const counts = { c: 0, p: 0 };
    for (const letter of source.status) if (letter in counts) counts[letter] += 1;
    this.$('folder-progress').textContent =
      `${counts.c} complete · ${counts.p} partial · ${source.total - counts.c - counts.p} to do`;
    const machine = this.$('predictions');
    machine.hidden = !source.machineFile;
    if (source.machineFile) this.$('machine-file').textContent = source.machineFile;
    this.$('accept-predictions').disabled = !(c.model && c.model.machine.size);
    this.$('undo').disabled = !(c.model && c.model.undoStack.length);
    this.$('redo').disabled = !(c.model && c.model.redoStack.length);
    this.saveState(c.saver.state);
  }

  saveState(state) {
    const node = this.$('save-state');
    node.textContent = SAVE_TEXT[state];
    node.className = `save-state ${state}`;
    node.dataset.state = state;
  }

  loading(on) {
    document.body.classList.toggle('loading', on);
  }

  message(text, kind = 'info') {
    const node = this.$('message');
    node.textContent = text;
    node.className = `message ${kind}`;
    node.hidden = false;
    clearTimeout(this.messageTimer);
    if (kind !== 'error') this.messageTimer = setTimeout(() => { node.hidden = true; }, 4000);
  }

  conflict(model, text, onChoice) {
    const banner = this.$('conflict');
    this.$('conflict-text').textContent = `${text} (frame ${model.name})`;
    banner.hidden = false;
    const choose = (keepMine) => {
      banner.hidden = true;
      onChoice(keepMine);
    };
    this.$('conflict-theirs').onclick = () => choose(false);
    this.$('conflict-mine').onclick = () => choose(true);
  }
}
