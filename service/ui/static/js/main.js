// The dashboard's entry: the API key box and a hash router between the job list (`#/`) and a
// job's page (`#/jobs/<id>`). Hash routes need no server-side routing: `/ui/` is one file.

import { authEvents, getKey, setKey } from "./api.js";
import { mountJobPage } from "./job-view.js";
import { mountJobList } from "./list-view.js";

const view = document.getElementById("view");
const keyForm = document.getElementById("key-form");
const keyInput = document.getElementById("api-key");
const keyState = document.getElementById("key-state");
const banner = document.getElementById("auth-banner");
let unmount = null;

function route() {
  unmount?.();
  const match = location.hash.match(/^#\/jobs\/([^/?#]+)$/);
  unmount = match ? mountJobPage(view, decodeURIComponent(match[1])) : mountJobList(view);
}

function showKeyState() {
  keyState.textContent = getKey() ? "key saved in this browser" : "";
  keyInput.value = "";
}

keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  setKey(keyInput.value.trim());
  banner.hidden = true;
  showKeyState();
  route(); // everything on screen was read with the old key (or none)
});

document.getElementById("forget-key").addEventListener("click", () => {
  setKey("");
  showKeyState();
  route();
});

authEvents.addEventListener("unauthorized", (event) => {
  const why = getKey() ? "The saved API key was refused" : "This server needs an API key";
  const where = "Enter one above: it is kept in this browser only.";
  banner.textContent = `${why} (${event.detail.message}). ${where}`;
  banner.hidden = false;
  keyInput.focus();
});

window.addEventListener("hashchange", route);
showKeyState();
route();
