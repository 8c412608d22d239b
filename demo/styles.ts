/** The storefront's stylesheet, served at /styles.css. */
export const STYLES = `
:root {
  --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --bg: #f8fafc; --card: #fff;
  --brand: #4f46e5; --brand-ink: #fff; --danger: #dc2626; --ok: #059669;
  --radius: 14px; --shadow: 0 1px 2px rgba(0,0,0,.04), 0 4px 16px rgba(17,24,39,.06);
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
a { color: inherit; text-decoration: none; }
a:hover { color: var(--brand); }
header.top { position: sticky; top: 0; z-index: 5; background: rgba(255,255,255,.92); backdrop-filter: blur(8px); border-bottom: 1px solid var(--line); }
.bar { max-width: 1100px; margin: 0 auto; padding: 12px 20px; display: flex; align-items: center; gap: 18px; }
.logo { font-weight: 800; letter-spacing: -.02em; font-size: 19px; display: flex; align-items: center; gap: 8px; }
.logo-mark { width: 26px; height: 26px; border-radius: 8px; background: conic-gradient(from 45deg, #4f46e5, #06b6d4, #22c55e, #f59e0b, #4f46e5); }
nav.main { display: flex; gap: 16px; margin-left: 12px; color: var(--muted); font-weight: 500; }
.spacer { flex: 1; }
.break { display: none; }
.who { color: var(--muted); font-size: 14px; display: flex; align-items: center; gap: 10px; }
.who strong { color: var(--ink); }
.badge { display: inline-flex; align-items: center; justify-content: center; min-width: 22px; height: 22px; padding: 0 7px; border-radius: 999px; background: var(--brand); color: #fff; font-size: 12px; font-weight: 700; }
.pill { display: inline-block; white-space: nowrap; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; background: #eef2ff; color: var(--brand); }
.pill.guest { background: #f3f4f6; color: var(--muted); }
main { max-width: 1100px; margin: 0 auto; padding: 28px 20px 64px; }
h1 { font-size: 28px; letter-spacing: -.02em; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 32px 0 12px; }
.lead { color: var(--muted); margin: 0 0 22px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 18px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); box-shadow: var(--shadow); overflow: hidden; display: flex; flex-direction: column; }
.card .body { padding: 14px 16px 16px; display: flex; flex-direction: column; gap: 6px; flex: 1; }
.card .name { font-weight: 650; }
.card .blurb { color: var(--muted); font-size: 13.5px; flex: 1; }
.row { display: flex; align-items: center; justify-content: space-between; gap: 10px; }
.price { font-weight: 700; font-variant-numeric: tabular-nums; }
.art { display: grid; place-items: center; }
.art svg { width: 46%; height: 46%; filter: drop-shadow(0 6px 10px rgba(0,0,0,.15)); }
.art-tile { aspect-ratio: 4 / 3; }
.art-thumb { width: 56px; height: 56px; border-radius: 10px; flex: none; }
.art-hero { aspect-ratio: 1; border-radius: var(--radius); }
button, .button { font: inherit; font-weight: 600; border: 0; border-radius: 10px; padding: 8px 14px; cursor: pointer; background: var(--brand); color: var(--brand-ink); transition: filter .15s, transform .05s; }
button:hover, .button:hover { filter: brightness(1.08); color: var(--brand-ink); }
button:active { transform: translateY(1px); }
button.ghost { background: transparent; color: var(--muted); border: 1px solid var(--line); }
button.ghost:hover { color: var(--ink); }
button.danger { background: #fff; color: var(--danger); border: 1px solid #fecaca; }
button.link { background: none; color: var(--muted); padding: 0; font-weight: 500; }
button.link:hover { color: var(--brand); }
input, select { font: inherit; padding: 9px 12px; border: 1px solid var(--line); border-radius: 10px; background: #fff; }
input:focus, select:focus { outline: 2px solid #c7d2fe; border-color: var(--brand); }
form.inline { display: inline; margin: 0; }
.layout { display: grid; grid-template-columns: 1fr 290px; gap: 28px; align-items: start; }
aside.panel, .panel { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 16px 18px; box-shadow: var(--shadow); }
aside.panel h3 { margin: 0 0 10px; font-size: 14px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.mini { display: flex; align-items: center; gap: 10px; padding: 6px 0; }
.mini + .mini { border-top: 1px dashed var(--line); }
.mini .art-thumb { width: 40px; height: 40px; border-radius: 8px; }
.empty { color: var(--muted); font-size: 14px; }
table.lines { width: 100%; border-collapse: collapse; background: var(--card); border-radius: var(--radius); overflow: hidden; box-shadow: var(--shadow); border: 1px solid var(--line); }
table.lines td, table.lines th { padding: 12px 14px; border-bottom: 1px solid var(--line); text-align: left; }
table.lines th { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); background: #fafafa; }
table.lines tr:last-child td { border-bottom: 0; }
.qty { width: 72px; }
.total { font-size: 20px; font-weight: 800; }
.product { display: grid; grid-template-columns: 1fr 1fr; gap: 36px; }
.flash { padding: 10px 14px; border-radius: 10px; margin-bottom: 18px; background: #ecfdf5; color: var(--ok); border: 1px solid #a7f3d0; }
.flash.error { background: #fef2f2; color: var(--danger); border-color: #fecaca; }
.signin { max-width: 420px; margin: 40px auto; }
.signin form { display: flex; flex-direction: column; gap: 12px; }
.device { display: flex; align-items: center; gap: 14px; padding: 14px 0; }
.device + .device { border-top: 1px solid var(--line); }
.device .icon { width: 40px; height: 40px; border-radius: 10px; background: #eef2ff; display: grid; place-items: center; color: var(--brand); font-weight: 800; }
.device .meta { color: var(--muted); font-size: 13px; }
.device .details { flex: 1; min-width: 0; overflow-wrap: anywhere; }
.muted { color: var(--muted); font-weight: 400; }
.row.wrap { flex-wrap: wrap; justify-content: flex-start; }
label.check { display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 14px; }
footer { color: var(--muted); font-size: 13px; text-align: center; padding: 24px; }
.toast { position: fixed; right: 20px; bottom: 20px; background: var(--ink); color: #fff; padding: 10px 16px; border-radius: 10px; box-shadow: var(--shadow); opacity: 0; transform: translateY(8px); transition: all .2s; }
.toast.show { opacity: 1; transform: none; }
@media (max-width: 760px) {
  .layout, .product { grid-template-columns: 1fr; }
  nav.main { display: none; }
  .bar { flex-wrap: wrap; gap: 10px; padding: 10px 14px; }
  .logo { font-size: 17px; }
  .logo { flex: 1 1 auto; }
  .spacer { display: none; }
  .break { display: block; flex-basis: 100%; height: 0; order: 2; }
  .cart-link { order: 3; margin-right: auto; }
  .account { order: 4; }
  main { padding: 20px 14px 48px; }
  h1 { font-size: 24px; }
  .grid { grid-template-columns: repeat(2, 1fr); gap: 12px; }
  .card .body { padding: 10px 12px 12px; }
  .card .row { flex-wrap: wrap; }
  .card .row form, .card .row button { width: 100%; }
  /* The cart's lines as cards: product and subtotal, then quantity and remove. A table of four
     columns does not fit 390 px. */
  table.lines, table.lines tbody, table.lines td { display: block; }
  table.lines thead { display: none; }
  table.lines tr { display: grid; grid-template-columns: minmax(0, 1fr) auto; align-items: center; gap: 10px 12px; padding: 12px 14px; border-bottom: 1px solid var(--line); }
  table.lines tr:last-child { border-bottom: 0; }
  table.lines td, table.lines tr:last-child td { padding: 0; border: 0; }
  table.lines td:nth-child(3) { grid-row: 2; grid-column: 1; }
  table.lines td:nth-child(4) { grid-row: 1; grid-column: 2; text-align: right; }
  table.lines td:nth-child(5) { grid-row: 2; grid-column: 2; text-align: right; }
  table.lines th:nth-child(2), table.lines td:nth-child(2) { display: none; }
  .device { flex-wrap: wrap; }
  .device .details { flex-basis: calc(100% - 54px); }
  .device form { margin-left: 54px; }
}
`;
