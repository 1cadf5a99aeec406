// Starts the app: one store, the window's component tree rendering it, and the events Rust and the webview send.
import { mount } from "svelte";
import App from "./App.svelte";
import { Store } from "./state.svelte";
import "./style.css";

const store = new Store();
const target = document.getElementById("app");
if (target) {
  mount(App, { target, props: { store } });
  void store.connect();
  void store.start();
}

// Automation and end-to-end tests add files through the same path a drop takes (so does Rust's drag and drop).
(window as unknown as { deltaBridge: unknown }).deltaBridge = { addFiles: (paths: string[]) => store.addFiles(paths) };
