import QRCode from 'qrcode';

/**
 * The QR code of a ticket code, as an inline SVG drawn on the server: it holds exactly the code (nothing else, so a
 * door's scanner reads what the customer would read out), needs no script and no request, and the page's CSP stays as
 * it is. Error correction M survives a scratched or dim phone screen; the 4-module quiet zone is the standard's.
 */
export async function ticketQrSvg(code: string): Promise<string> {
  const svg = await QRCode.toString(code, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
  return svg.replace('<svg ', `<svg class="ticket-qr" role="img" aria-label="QR code of ticket ${code}" `);
}

/** The QR code's modules (true = dark), row by row, without the quiet zone: for tests and the camera test's video. */
export function ticketQrMatrix(code: string): boolean[][] {
  const qr = QRCode.create(code, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const rows: boolean[][] = [];
  for (let y = 0; y < n; y++) {
    const row: boolean[] = [];
    for (let x = 0; x < n; x++) row.push(qr.modules.get(y, x) === 1);
    rows.push(row);
  }
  return rows;
}
