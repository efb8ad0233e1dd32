"""The one-way flow, one module per arrow: `poll` (sources -> snapshots, stored through `diff`),
`diff` (snapshot -> entries + events), `digests` (events -> per-subscription selection and the
digest model), `render` (-> text, HTML, Markdown), `outbox` (stored, then delivered by a
channel). `imports` feeds saved PACER files into the same `diff`."""
