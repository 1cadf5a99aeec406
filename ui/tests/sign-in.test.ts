// The SignIn screen: signing in lands on the datasets; a session the keyring cannot keep says so.
import { fireEvent } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { $, account, backend, settle, start } from "./helpers";

async function signIn(button: "submit" | "sign-up") {
  await fireEvent.input($("#email"), { target: { value: "ana@example.com" } });
  await fireEvent.input($("#password"), { target: { value: "secret123" } });
  if (button === "submit") await fireEvent.submit($("#sign-in"));
  else await fireEvent.click($("#sign-up"));
  await settle();
}

describe("sign-in", () => {
  it("asks to sign in when the keyring holds no session, then lists datasets", async () => {
    const ipc = backend({ restore_session: null, sign_in: account });
    await start();
    expect(document.querySelector("#drop")).toBeNull();
    await signIn("submit");
    expect(ipc.of("sign_in")).toEqual([{ email: "ana@example.com", password: "secret123", signUp: false }]);
    expect($("#who").textContent).toBe("ana@example.com");
    expect($("#datasets").textContent).toContain("sales");
    expect(document.querySelector(".session-only")).toBeNull();
  });

  it("creates an account with Create account", async () => {
    const ipc = backend({ restore_session: null, sign_in: account });
    await start();
    await signIn("sign-up");
    expect(ipc.of("sign_in")).toEqual([{ email: "ana@example.com", password: "secret123", signUp: true }]);
    expect(document.querySelector("#drop")).not.toBeNull();
  });

  it("says when the session will not be remembered (no Secret Service)", async () => {
    backend({ restore_session: null, sign_in: { ...account, remembered: false } });
    await start();
    await signIn("submit");
    expect($(".session-only").textContent).toContain("Signed in for this session only; it will not be remembered");
  });

  it("shows why sign-in failed and stays on the form", async () => {
    backend({ restore_session: null, sign_in: () => { throw { kind: "auth", message: "INVALID_PASSWORD" }; } });
    await start();
    await signIn("submit");
    expect($("#sign-in-error").textContent).toBe("Sign-in problem: INVALID_PASSWORD");
    expect(document.querySelector("#drop")).toBeNull();
  });

  it("goes straight to the main screen with a remembered session, and Sign out comes back here", async () => {
    const ipc = backend();
    await start();
    expect($("#who").textContent).toBe("ana@example.com");
    await fireEvent.click($("#sign-out"));
    await settle();
    expect(ipc.of("sign_out")).toHaveLength(1);
    expect(document.querySelector("#email")).not.toBeNull();
    expect(document.querySelector("#who")).toBeNull();
  });
});
