// The /v1 API from the web interface's own pages: the session cookie is sent by the browser, and
// the X-Voicekit-UI header tells the API this request comes from here (see api/deps.py).
"use strict";
window.voicekit = {
  async call(method, path, body) {
    const options = {method, headers: {"X-Voicekit-UI": "1"}, credentials: "same-origin"};
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    if (!response.ok) {
      let problem = {detail: `${response.status} ${response.statusText}`};
      try { problem = await response.json(); } catch (e) { /* not a problem body */ }
      const error = new Error(problem.detail || problem.title || "the request was refused");
      error.problem = problem;
      error.status = response.status;
      throw error;
    }
    return response;
  },
  async json(method, path, body) {
    return (await this.call(method, path, body)).json();
  },
  show(element, text) {
    element.textContent = text;
    element.hidden = !text;
  },
};
