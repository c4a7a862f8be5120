// Draws a game's frame on a canvas: the board, the food and the snake, scaled to the canvas's
// on-screen size so the board stays sharp on phones and high-density screens.

import type { Cell } from "../../generated/typescript/index.js";

/** A board's size in cells. */
export interface BoardSize {
  width: number;
  height: number;
}

/**
 * The board every game is played on today (the engine's 20 by 20 grid). Players learn the size
 * from `POST /api/games`; watchers are not told it by the contract, so the watch views use this.
 */
export const STANDARD_BOARD: BoardSize = { width: 20, height: 20 };

const COLOURS = {
  board: "#10231a",
  grid: "#173326",
  food: "#ff5f56",
  head: "#f6d743",
  body: "#4cc38a",
};

/** A canvas labelled for assistive technology, sized to the board's proportions. */
export function createBoardCanvas(label: string, size: BoardSize): HTMLCanvasElement {
  const canvas = document.createElement("canvas");
  canvas.className = "board";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
  canvas.width = size.width * 24;
  canvas.height = size.height * 24;
  return canvas;
}

/** Draws the snake (head first, as frames list it) and the food on the canvas. */
export function drawBoard(canvas: HTMLCanvasElement, size: BoardSize, snake: Cell[], food: Cell | undefined): void {
  const context = canvas.getContext("2d");
  if (context === null) return;
  const cellWidth = canvas.width / size.width;
  const cellHeight = canvas.height / size.height;
  context.fillStyle = COLOURS.board;
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = COLOURS.grid;
  for (let x = 0; x < size.width; x += 1) {
    for (let y = (x % 2); y < size.height; y += 2) {
      context.fillRect(x * cellWidth, y * cellHeight, cellWidth, cellHeight);
    }
  }
  if (food !== undefined) {
    context.fillStyle = COLOURS.food;
    context.beginPath();
    context.arc((food.x + 0.5) * cellWidth, (food.y + 0.5) * cellHeight, cellWidth * 0.38, 0, Math.PI * 2);
    context.fill();
  }
  snake.forEach((cell, index) => {
    context.fillStyle = index === 0 ? COLOURS.head : COLOURS.body;
    context.fillRect(cell.x * cellWidth + 1, cell.y * cellHeight + 1, cellWidth - 2, cellHeight - 2);
  });
}
