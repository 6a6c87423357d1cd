// Vega-Lite charts for the desk pages, drawn without eval: Vega parses the spec to an AST and
// vega-interpreter evaluates its expressions (ast: true), so the page's policy needs no
// 'unsafe-eval'. The libraries are loaded on first use, after the tables: a table is the text
// alternative of every chart, and the page is usable before the charts arrive.

let loaded = null;

/** vega-embed and the expression interpreter, loaded once (UMD builds set globals in order). */
function libraries() {
  loaded ??= (async () => {
    await import("/static/vendor/vega/vega.min.js");
    await import("/static/vendor/vega-lite/vega-lite.min.js");
    await import("/static/vendor/vega-embed/vega-embed.min.js");
    const { expressionInterpreter } = await import(
      "/static/vendor/vega-interpreter/vega-interpreter.js"
    );
    return { embed: globalThis.vegaEmbed, expr: expressionInterpreter };
  })();
  return loaded;
}

/**
 * Draw the Vega-Lite `spec` into `container`, an element inside one with role="img" and an
 * aria-label naming the chart and the table that holds its numbers (Vega sets a role and label
 * of its own on `container`, so the accessible name lives on the parent). Resolves when drawn.
 */
export async function drawChart(container, spec) {
  const { embed, expr } = await libraries();
  container.replaceChildren();
  const result = await embed(container, spec, {
    ast: true,
    expr,
    actions: false,
    // vega-tooltip injects an inline style sheet; the tables hold the numbers instead.
    tooltip: false,
    renderer: "canvas",
    // vega-embed's own style sheet is inline CSS, which the policy forbids; desk.css has it.
    defaultStyle: false,
  });
  container.dataset.drawn = "true";
  return result;
}

/** The colours of the charts: the app's accent and ink, distinguishable without colour too. */
export const CHART_COLOURS = ["#0b5cad", "#4a90d9", "#b35900", "#a4161a", "#5c2d91"];
