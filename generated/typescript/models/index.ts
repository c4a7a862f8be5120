/* tslint:disable */
/* eslint-disable */
export * from './ActiveGame.js';
export * from './AuthResponse.js';
export * from './Cell.js';
export * from './ClientMessage.js';
export * from './Direction.js';
export * from './FinishedGameSummary.js';
export * from './GameFrame.js';
export * from './GameMode.js';
export * from './GameStartRequest.js';
export * from './GameStarted.js';
export * from './Health.js';
export * from './LeaderboardEntry.js';
export * from './LoginRequest.js';
export * from './ModelError.js';
export * from './PlayTicket.js';
export * from './ScoreSubmission.js';
export * from './ServerMessage.js';
export * from './SignupRequest.js';
export * from './User.js';
