// What the labeler does: moving between frames, bodyparts and individuals, placing,
// moving and hiding points, undo/redo and accepting predictions. Every change is drawn
// at once and handed to the Saver.
import { api, frameUrl } from './api.js';
import { FrameModel, slotKey } from './model.js';

const MAX_MODELS = 300;

export class Controller {
  constructor({ project, folder, source, saver, view, strip, panel }) {
    Object.assign(this, { project, folder, source, saver, view, strip, panel });
    this.models = new Map(); // name -> FrameModel (kept for undo and pending saves)
    this.index = -1;
    this.model = null;
    this.individual = project.individuals[0];
    this.loadToken = 0;
    this.allSlots = [];
    for (const ind of project.individuals) {
      for (const bp of project.bodyparts) this.allSlots.push(slotKey(ind, bp));
    }
    for (const bp of project.unique_bodyparts) this.allSlots.push(slotKey('single', bp));
  }

  // Slots offered for the current individual: its bodyparts, then the unique ones.
  slots(ind = this.individual) {
    return [...this.project.bodyparts.map((bp) => slotKey(ind, bp)),
      ...this.project.unique_bodyparts.map((bp) => slotKey('single', bp))];
  }

  // ---- frames -------------------------------------------------------------------------
  async goTo(index) {
    if (!this.source.total) return;
    const target = Math.max(0, Math.min(this.source.total - 1, index));
    this.saver.flush();
    const token = ++this.loadToken;
    this.panel.loading(true);
    try {
      const entry = await this.source.get(target);
      const [frame, image] = await Promise.all([entry.frame, entry.image]);
      if (token !== this.loadToken) return;
      this.show(target, this.modelFor(frame), image);
      this.refresh(target, entry.name);
    } catch (err) {
      if (token === this.loadToken) this.panel.message(err.message, 'error');
    } finally {
      if (token === this.loadToken) this.panel.loading(false);
    }
    this.source.prefetch(target);
  }

  modelFor(frame) {
    let model = this.models.get(frame.name);
    if (!model) {
      model = new FrameModel(frame);
      this.models.set(frame.name, model);
      this.trimModels();
    } else if (!model.dirty && frame.rev !== model.rev) {
      model.adopt(frame);
    }
    return model;
  }

  trimModels() {
    for (const [name, model] of this.models) {
      if (this.models.size <= MAX_MODELS) break;
      if (!model.dirty && model !== this.model) this.models.delete(name);
    }
  }

  show(index, model, image) {
    const sameSize = this.model && this.model.width === model.width
      && this.model.height === model.height;
    this.index = index;
    this.model = model;
    this.view.model = model;
    this.view.image = image;
    if (!sameSize) this.view.fit();
    this.selectFirstOpen();
    this.strip.setCurrent(index);
    this.redraw();
    const url = new URL(window.location.href);
    url.searchParams.set('frame', model.name);
    window.history.replaceState(null, '', url);
  }

  // Re-read the frame from the server and take it if it changed and has no local edits.
  async refresh(index, name, maxAge = 1500) {
    const entry = this.source.cached(name);
    if (!entry || Date.now() - entry.time < maxAge) return;
    try {
      const fresh = await this.source.get(index, { fresh: true }).then((e) => e.frame);
      const model = this.models.get(name);
      if (fresh.name === name && model && !model.dirty && fresh.rev !== model.rev) {
        model.adopt(fresh);
        if (model === this.model) this.changed(false);
      }
    } catch (err) {
      // the frame shown stays; saving reports problems
    }
  }

  next(step = 1) { this.goTo(this.index + step); }

  // The next frame (in direction `dir`) that is not complete.
  nextOpen(dir = 1) {
    const { status, total } = this.source;
    for (let i = this.index + dir; i >= 0 && i < total; i += dir) {
      if (status[i] !== 'c') { this.goTo(i); return; }
    }
    this.panel.message(dir > 0 ? 'No incomplete frame after this one.'
      : 'No incomplete frame before this one.', 'info');
  }

  // ---- selection ----------------------------------------------------------------------
  select(key) {
    this.view.selected = key;
    const [ind] = key.split('\u0001');
    if (ind !== 'single' && ind !== this.individual) this.individual = ind;
    this.redraw();
  }

  selectFirstOpen() {
    const slots = this.slots();
    const open = slots.find((key) => this.model.state(key) === 'empty');
    this.select(open || (slots.includes(this.view.selected) ? this.view.selected : slots[0]));
  }

  nextSlot(dir = 1) {
    const slots = this.slots();
    const i = slots.indexOf(this.view.selected);
    this.select(slots[(i + dir + slots.length) % slots.length]);
  }

  // After placing or hiding: the next slot of this individual not labeled yet.
  advance() {
    const slots = this.slots();
    const start = slots.indexOf(this.view.selected);
    for (let k = 1; k <= slots.length; k += 1) {
      const key = slots[(start + k) % slots.length];
      if (this.model.state(key) === 'empty') { this.select(key); return; }
    }
  }

  selectNumber(n) {
    const slots = this.slots();
    if (n >= 1 && n <= slots.length) this.select(slots[n - 1]);
  }

  setIndividual(ind) {
    if (!this.project.individuals.includes(ind)) return;
    const [, bp] = (this.view.selected || '').split('\u0001');
    this.individual = ind;
    const same = slotKey(ind, bp);
    if (this.slots().includes(same)) this.select(same); else this.selectFirstOpen();
  }

  nextIndividual(dir = 1) {
    const list = this.project.individuals;
    const i = list.indexOf(this.individual);
    this.setIndividual(list[(i + dir + list.length) % list.length]);
  }

  // ---- editing ------------------------------------------------------------------------
  edit(change, { advance = false } = {}) {
    if (!this.model || !this.model.edit(change)) return;
    if (advance) this.advance();
    this.changed(true);
  }

  changed(save) {
    if (save) this.saver.schedule(this.model);
    this.source.setStatus(this.index, this.statusLetter(this.model));
    this.redraw();
  }

  statusLetter(model) {
    let resolved = 0;
    for (const key of this.allSlots) if (model.state(key) !== 'empty') resolved += 1;
    if (resolved && resolved === this.allSlots.length) return 'c';
    if (resolved) return 'p';
    return model.machine.size ? 'm' : 'e';
  }

  placeSelected(x, y) {
    const key = this.view.selected;
    this.edit((m) => m.place(key, x, y), { advance: true });
  }

  hide(key = this.view.selected) {
    this.select(key);
    this.edit((m) => m.hide(key), { advance: true });
  }

  clear(key = this.view.selected) {
    this.edit((m) => m.clear(key));
  }

  // Mark every bodypart of the current individual not labeled yet as not visible.
  hideRest() {
    const open = this.slots().filter((key) => this.model.state(key) === 'empty');
    this.edit((m) => open.forEach((key) => m.hide(key)));
  }

  beginDrag(key) {
    this.select(key);
    this.model.beginDrag();
  }

  dragTo(key, x, y) {
    this.model.place(key, x, y);
    this.view.draw();
  }

  endDrag() {
    if (this.model.endDrag()) this.changed(true);
  }

  undo() {
    if (this.model && this.model.undo()) this.changed(true);
  }

  redo() {
    if (this.model && this.model.redo()) this.changed(true);
  }

  // Turn the frame's predictions into labels (where nothing is labeled yet).
  async acceptPredictions() {
    const model = this.model;
    if (!model || !model.machine.size) {
      this.panel.message('This frame has no predictions to accept.', 'info');
      return;
    }
    this.saver.flush();
    if (model.dirty) {
      this.panel.message('Saving your last edit first; press Enter again in a moment.', 'info');
      return;
    }
    try {
      const frame = await api(`${frameUrl(this.folder, model.name)}/accept`,
        { method: 'POST', body: { base_rev: model.rev } });
      model.adopt(frame);
      this.changed(false);
      this.panel.message('Predictions accepted as labels.', 'ok');
    } catch (err) {
      this.panel.message(err.message, 'error');
    }
  }

  redraw() {
    this.view.draw();
    this.strip.draw();
    this.panel.update(this);
  }
}
