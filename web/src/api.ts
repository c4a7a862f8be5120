// The web client's one door to the server: the generated client's APIs (generated/typescript/),
// configured for this page's own origin and the signed-in player's token, the session kept in
// localStorage, the WebSocket URLs of the channels, and the server's `detail` from a refusal.

import {
  AuthApi,
  Configuration,
  FetchError,
  GamesApi,
  LeaderboardApi,
  ResponseError,
  type ClientMessage,
  type ModelError,
  type ServerMessage,
  type User,
} from "../../generated/typescript/index.js";

/** The page is served by the API's own server, so every call goes to this origin. */
const basePath = window.location.origin;

const SESSION_KEY = "snake-arena-session";

/** The signed-in player and their bearer token. */
export interface Session {
  token: string;
  user: User;
}

/** The session stored by the last sign-up or log-in on this browser, if any. */
export function currentSession(): Session | null {
  const stored = window.localStorage.getItem(SESSION_KEY);
  if (stored === null) return null;
  try {
    const parsed: unknown = JSON.parse(stored);
    if (typeof parsed === "object" && parsed !== null && "token" in parsed && "user" in parsed) {
      return parsed as Session;
    }
  } catch {
    // A damaged entry is treated as no session at all.
  }
  return null;
}

/** Keeps (or, with `null`, forgets) the session, and tells the page it changed. */
export function storeSession(session: Session | null): void {
  if (session === null) {
    window.localStorage.removeItem(SESSION_KEY);
  } else {
    window.localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  }
  window.dispatchEvent(new Event("snake-arena-session"));
}

function configuration(): Configuration {
  const session = currentSession();
  return new Configuration(session === null ? { basePath } : { basePath, accessToken: session.token });
}

export const authApi = (): AuthApi => new AuthApi(configuration());
export const gamesApi = (): GamesApi => new GamesApi(configuration());
export const leaderboardApi = (): LeaderboardApi => new LeaderboardApi(configuration());

/**
 * What to tell the player about a failed call: the server's `detail` when it refused (every
 * refusal carries `{code, detail}`), or a plain sentence when the server could not be reached.
 */
export async function refusalDetail(error: unknown): Promise<string> {
  if (error instanceof ResponseError) {
    try {
      const body = (await error.response.json()) as Partial<ModelError>;
      if (typeof body.detail === "string" && body.detail.length > 0) return body.detail;
    } catch {
      // A refusal without the contract's body falls through to the status line.
    }
    return `The server answered ${error.response.status} ${error.response.statusText}.`;
  }
  if (error instanceof FetchError) return "The server cannot be reached; check the connection and try again.";
  return error instanceof Error ? error.message : String(error);
}

/** The WebSocket URL of a channel path such as `/api/games/live/{id}/watch`, on this origin. */
export function channelUrl(path: string): string {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

/** Parses one text message of a channel as the contract's `ServerMessage`. */
export function parseServerMessage(text: string): ServerMessage {
  return JSON.parse(text) as ServerMessage;
}

/** Encodes a message to the server exactly as the contract's `ClientMessage` says. */
export function encodeClientMessage(message: ClientMessage): string {
  return JSON.stringify(message);
}

/** The `{code, detail}` of a channel's error message (the generated type names it `Error`). */
export function channelErrorDetail(message: ServerMessage): string {
  const error = message.error as unknown as Partial<ModelError> | undefined;
  return error?.detail ?? "the server closed the channel with an error";
}
