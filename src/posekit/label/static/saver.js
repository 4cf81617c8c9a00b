// Saving frames: each change is sent within a second (debounced PUT per frame), one
// request per frame at a time, retried while the server cannot be reached. A frame
// changed elsewhere since it was loaded comes back as 409: the user decides.
import { api, frameUrl } from './api.js';

const DEBOUNCE_MS = 300;
const RETRY_MS = [1000, 2000, 4000, 8000];

export class Saver {
  constructor(folder, handlers) {
    this.folder = folder;
    this.handlers = handlers; // onSaved(model, frame), onConflict(model, current), onChange()
    this.jobs = new Map(); // name -> {model, timer, busy, failures}
    this.lastError = null;
  }

  job(model) {
    let job = this.jobs.get(model.name);
    if (!job || job.model !== model) {
      job = { model, timer: null, busy: false, failures: 0, conflict: null };
      this.jobs.set(model.name, job);
    }
    return job;
  }

  // Save `model` after a short pause (edits in quick succession make one request).
  schedule(model, delay = DEBOUNCE_MS) {
    const job = this.job(model);
    clearTimeout(job.timer);
    job.timer = setTimeout(() => { job.timer = null; this.send(job); }, delay);
    this.handlers.onChange();
  }

  // Send every pending change now (before leaving a frame).
  flush() {
    for (const job of this.jobs.values()) {
      if (job.timer) {
        clearTimeout(job.timer);
        job.timer = null;
        this.send(job);
      }
    }
  }

  // Last chance when the page goes away: keepalive requests outlive the page.
  flushOnExit() {
    for (const job of this.jobs.values()) {
      if (job.model.dirty && !job.conflict) {
        api(frameUrl(this.folder, job.model.name),
          { method: 'PUT', body: job.model.body(), keepalive: true }).catch(() => {});
      }
    }
  }

  async send(job) {
    const { model } = job;
    if (job.busy || job.conflict || !model.dirty) return;
    job.busy = true;
    const version = model.version;
    this.handlers.onChange();
    try {
      const frame = await api(frameUrl(this.folder, model.name),
        { method: 'PUT', body: model.body() });
      model.rev = frame.rev;
      model.status = frame.status;
      model.savedVersion = version;
      job.failures = 0;
      this.lastError = null;
      this.handlers.onSaved(model, frame);
    } catch (err) {
      this.failed(job, err);
    } finally {
      job.busy = false;
      this.handlers.onChange();
    }
    if (model.dirty && !job.conflict && !job.timer && !job.retry) this.send(job);
  }

  failed(job, err) {
    this.lastError = err;
    if (err.status === 409 && err.body.current) {
      job.conflict = err.body.current;
      this.handlers.onConflict(job.model, err.body.current, err.message);
      return;
    }
    if (err.status === 0 || err.status >= 500 || err.status === 401) {
      if (err.status === 401 && !job.failures) this.handlers.onError(job.model, err);
      const wait = RETRY_MS[Math.min(job.failures, RETRY_MS.length - 1)];
      job.failures += 1;
      job.retry = setTimeout(() => { job.retry = null; this.send(job); }, wait);
      return;
    }
    this.handlers.onError(job.model, err);
  }

  // After a conflict: keep this tab's version (overwrite) or take the other one.
  resolve(model, keepMine) {
    const job = this.job(model);
    const current = job.conflict;
    job.conflict = null;
    if (!current) return;
    if (keepMine) {
      model.rev = current.rev;
      this.schedule(model, 0);
    } else {
      model.adopt(current);
      this.handlers.onChange();
    }
  }

  get state() {
    let pending = false;
    let busy = false;
    for (const job of this.jobs.values()) {
      if (job.conflict) return 'conflict';
      if (job.model.dirty) pending = true;
      if (job.busy) busy = true;
    }
    if (pending && this.lastError) return this.lastError.status === 0 ? 'offline' : 'error';
    if (busy) return 'saving';
    return pending ? 'pending' : 'saved';
  }

  get hasUnsaved() {
    for (const job of this.jobs.values()) if (job.model.dirty) return true;
    return false;
  }
}
