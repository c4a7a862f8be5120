/* tslint:disable */
/* eslint-disable */
export * from './AuthApi.js';
export * from './GamesApi.js';
export * from './HealthApi.js';
export * from './LeaderboardApi.js';
