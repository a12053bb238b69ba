import jsQRModule from 'jsqr';

// jsqr is a CommonJS bundle whose types declare an ES default export: under NodeNext the import is the module object
// for the compiler but the function at run time (which also carries .default). Take whichever is the function.
type Decode = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR: Decode = ((jsQRModule as unknown as { default?: Decode }).default ?? jsQRModule) as Decode;

/**
 * Reads a QR code drawn as the qrcode package's SVG (a viewBox in modules and one path of 1-module-high horizontal
 * strokes: `M x y.5 h n m dx dy h n …`) by painting it into pixels and decoding those with jsQR, the same library the
 * door page uses. What is decoded is the SVG the page served, not a copy of the code.
 */
export function decodeQrSvg(svg: string, scale = 8): string | null {
  const box = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  const path = /<path stroke="[^"]+" d="([^"]+)"/.exec(svg);
  if (!box || !path) throw new Error('not a qrcode SVG');
  const size = Number(box[1]);
  const dark: boolean[][] = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
  let x = 0;
  let y = 0;
  for (const [, op, a, b] of path[1]!.matchAll(/([MmHhVv])\s*(-?[\d.]+)(?:\s+(-?[\d.]+))?/g)) {
    const n = Number(a);
    if (op === 'M') { x = n; y = Number(b); }
    else if (op === 'm') { x += n; y += Number(b); }
    else if (op === 'h') {
      for (let i = 0; i < n; i++) dark[Math.floor(y)]![x + i] = true;
      x += n;
    } else throw new Error(`unexpected path command ${op}`);
  }
  return decodeModules(dark, scale);
}

/** Decodes a module matrix (true = dark, quiet zone included or added here) with jsQR. */
export function decodeModules(modules: boolean[][], scale = 8, quiet = 0): string | null {
  const n = modules.length + 2 * quiet;
  const w = n * scale;
  const rgba = new Uint8ClampedArray(w * w * 4).fill(255);
  for (let my = 0; my < modules.length; my++) {
    for (let mx = 0; mx < modules.length; mx++) {
      if (!modules[my]![mx]) continue;
      for (let py = 0; py < scale; py++) {
        for (let px = 0; px < scale; px++) {
          const i = (((my + quiet) * scale + py) * w + (mx + quiet) * scale + px) * 4;
          rgba[i] = rgba[i + 1] = rgba[i + 2] = 0;
        }
      }
    }
  }
  return jsQR(rgba, w, w)?.data ?? null;
}
