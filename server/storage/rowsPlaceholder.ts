/** `($1, $2, ...), ($n+1, ...)` placeholders for a multi-row statement (each column with its cast, if any). */
export function rowsPlaceholder(rows: number, columns: number, casts: string[] = []): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < columns; c++) cells.push(`$${r * columns + c + 1}${casts[c] ?? ''}`);
    out.push(`(${cells.join(', ')})`);
  }
  return out.join(', ');
}
