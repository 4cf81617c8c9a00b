// Talking to the labeling server: JSON in, JSON out, errors as ApiError.
// The access token travels in a cookie set when the page was first opened, so
// nothing here handles it.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body || {};
  }
}

const enc = encodeURIComponent;

export function folderUrl(folder) {
  return `/api/folders/${enc(folder)}`;
}

export function frameUrl(folder, name) {
  return `${folderUrl(folder)}/frames/${enc(name)}`;
}

export function imageUrl(folder, name) {
  return `${folderUrl(folder)}/images/${enc(name)}`;
}

export async function api(path, { method = 'GET', body, keepalive = false } = {}) {
  const options = { method, headers: {}, credentials: 'same-origin', keepalive };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new ApiError(0, 'The labeling server cannot be reached (was it stopped?). ' +
      'Your edits stay in this tab and are saved when it is back.');
  }
  let data = {};
  try {
    data = await response.json();
  } catch (err) {
    data = {};
  }
  if (!response.ok) {
    let message = data.error || `${response.status} ${response.statusText}`;
    if (response.status === 401) {
      message = 'The access token is missing or no longer valid: open the URL that ' +
        '`posekit label` printed (ending in ?token=...).';
    }
    throw new ApiError(response.status, message, data);
  }
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
