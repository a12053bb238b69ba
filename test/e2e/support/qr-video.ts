import { writeFileSync } from 'node:fs';
import { ticketQrMatrix } from '../../../src/bookings/ticket-qr.js';

/**
 * A Y4M video (what Chromium's fake camera plays: --use-file-for-fake-video-capture) showing a ticket's QR code, dark
 * modules on white, as a phone held up to the door's camera would. YUV4MPEG2 header, then per frame 'FRAME\n' and the
 * 4:2:0 planes: luma (16 black, 235 white), and both chroma planes at 128 (no colour). Chromium loops the file.
 */
export function writeQrVideo(path: string, code: string, opts: { width?: number; height?: number; frames?: number } = {}): void {
  const width = opts.width ?? 640;
  const height = opts.height ?? 480;
  const modules = ticketQrMatrix(code);
  const n = modules.length + 8; // with the 4-module quiet zone on each side
  const scale = Math.floor((Math.min(width, height) * 0.8) / n);
  const left = Math.floor((width - n * scale) / 2);
  const top = Math.floor((height - n * scale) / 2);
  const y = Buffer.alloc(width * height, 235);
  for (let my = 0; my < modules.length; my++) {
    for (let mx = 0; mx < modules.length; mx++) {
      if (!modules[my]![mx]) continue;
      for (let py = 0; py < scale; py++) {
        const row = (top + (my + 4) * scale + py) * width;
        y.fill(16, row + left + (mx + 4) * scale, row + left + (mx + 5) * scale);
      }
    }
  }
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, chroma]);
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`);
  writeFileSync(path, Buffer.concat([header, ...Array.from({ length: opts.frames ?? 5 }, () => frame)]));
}
