/* tslint:disable */
/* eslint-disable */
export * from './ActiveGame.js';
export * from './AuthResponse.js';
export * from './Cell.js';
export * from './GameFrame.js';
export * from './GameMode.js';
export * from './Health.js';
export * from './LeaderboardEntry.js';
export * from './LoginRequest.js';
export * from './ModelError.js';
export * from './ScoreSubmission.js';
export * from './SignupRequest.js';
export * from './User.js';
