// The words the page uses for the contract's enumerations, in one place.

import { GameFrameEndReasonEnum, GameMode } from "../../../generated/typescript/index.js";

/** A mode as a player reads it. */
export function modeName(mode: GameMode): string {
  return mode === GameMode.Walls ? "Walls" : "Pass-through";
}

/** Why a game ended, as the end of a sentence. */
export function describeEndReason(reason: GameFrameEndReasonEnum | undefined): string {
  switch (reason) {
    case GameFrameEndReasonEnum.HitWall:
      return "the snake hit a wall";
    case GameFrameEndReasonEnum.HitSelf:
      return "the snake ran into itself";
    case GameFrameEndReasonEnum.BoardFull:
      return "the board is full";
    case GameFrameEndReasonEnum.ReplacedByNewGame:
      return "a new game replaced this one";
    case GameFrameEndReasonEnum.ServerShuttingDown:
      return "the server is shutting down";
    case GameFrameEndReasonEnum.InstanceLost:
      return "the server running the game was lost";
    default:
      return "the game ended";
  }
}
