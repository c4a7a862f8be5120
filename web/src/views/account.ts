// Signing up and logging in (the forms shown to a visitor without a session) and the header's
// account area with its log-out button. Every refusal shows the server's own `detail`.

import { authApi, currentSession, refusalDetail, storeSession } from "../api.js";
import { alertLine, element, field } from "../dom.js";

/** The password rule, as the server enforces it at sign-up (README "Endpoints"). */
export const PASSWORD_RULE =
  "8 to 128 characters. Passwords that are easy to guess (common passwords, small changes to " +
  "them, or your username or email) are refused.";

function input(id: string, type: string, autocomplete: string, extra: Record<string, string> = {}): HTMLInputElement {
  const created = element("input", { id, name: id, type, autocomplete, required: "", ...extra });
  return created;
}

/** The sign-up and log-in forms side by side; `onSignedIn` runs once either succeeds. */
export function accountForms(onSignedIn: () => void): HTMLElement {
  const signupEmail = input("signup-email", "email", "email");
  const signupUsername = input("signup-username", "text", "username", {
    minlength: "3",
    maxlength: "20",
    pattern: "[A-Za-z0-9_\\-]{3,20}",
  });
  const signupPassword = input("signup-password", "password", "new-password", { minlength: "8", maxlength: "128" });
  const signupRefusal = alertLine("signup-refusal");
  const signupForm = element(
    "form",
    { class: "card", "aria-labelledby": "signup-heading", novalidate: "" },
    element("h2", { id: "signup-heading" }, "Sign up"),
    field("Email", signupEmail),
    field("Username", signupUsername, "3 to 20 letters, digits, _ or -."),
    field("Password", signupPassword, PASSWORD_RULE),
    signupRefusal,
    element("button", { type: "submit", id: "signup-submit" }, "Sign up"),
  );
  signupForm.addEventListener("submit", (event) => {
    event.preventDefault();
    signupRefusal.textContent = "";
    authApi()
      .authSignup({
        signupRequest: {
          email: signupEmail.value,
          username: signupUsername.value,
          password: signupPassword.value,
        },
      })
      .then((response) => {
        storeSession({ token: response.token, user: response.user });
        onSignedIn();
      })
      .catch(async (error: unknown) => {
        signupRefusal.textContent = await refusalDetail(error);
      });
  });

  const loginEmail = input("login-email", "email", "email");
  const loginPassword = input("login-password", "password", "current-password");
  const loginRefusal = alertLine("login-refusal");
  const loginForm = element(
    "form",
    { class: "card", "aria-labelledby": "login-heading", novalidate: "" },
    element("h2", { id: "login-heading" }, "Log in"),
    field("Email", loginEmail),
    field("Password", loginPassword),
    loginRefusal,
    element("button", { type: "submit", id: "login-submit" }, "Log in"),
  );
  loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    loginRefusal.textContent = "";
    authApi()
      .authLogin({ loginRequest: { email: loginEmail.value, password: loginPassword.value } })
      .then((response) => {
        storeSession({ token: response.token, user: response.user });
        onSignedIn();
      })
      .catch(async (error: unknown) => {
        loginRefusal.textContent = await refusalDetail(error);
      });
  });

  return element(
    "section",
    { class: "account-forms", "aria-label": "Sign up or log in" },
    element("p", {}, "Sign up or log in to play; your scores go on the leaderboard."),
    element("div", { class: "columns" }, signupForm, loginForm),
  );
}

/** Fills the header's account area: who is signed in and a log-out button, or nothing. */
export function renderAccountArea(container: HTMLElement): void {
  const session = currentSession();
  container.replaceChildren();
  if (session === null) return;
  const refusal = alertLine("logout-refusal");
  const logout = element("button", { type: "button", id: "logout", class: "secondary" }, "Log out");
  logout.addEventListener("click", () => {
    refusal.textContent = "";
    authApi()
      .authLogout()
      .then(() => storeSession(null))
      .catch(async (error: unknown) => {
        refusal.textContent = await refusalDetail(error);
      });
  });
  container.append(element("span", { id: "signed-in-as" }, `Signed in as ${session.user.username}`), logout, refusal);
}
