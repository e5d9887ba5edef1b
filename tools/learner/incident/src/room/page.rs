//! The room's page, for the projector: the room's table ([`super::table`]),
//! drawn by a small script from `GET /api/room` and drawn again every few
//! seconds. No external asset (it works offline), and every learner-given
//! string is set as text, never as markup.

/// How often the page asks for the table again, in milliseconds.
pub const REFRESH_MS: u32 = 3_000;

/// The page. `REFRESH` in its script is replaced by [`REFRESH_MS`].
const TEMPLATE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Incident room</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; background: #fafafa; }
  h1 { font-size: 1.8rem; margin: 0 0 0.3rem; }
  p.note { color: #555; margin: 0 0 1.2rem; }
  table { border-collapse: collapse; font-size: 1.4rem; font-variant-numeric: tabular-nums; }
  th, td { padding: 0.4rem 1rem; text-align: right; border-bottom: 1px solid #ddd; }
  th:first-child, td:first-child { text-align: left; }
  th { font-weight: 600; color: #555; font-size: 1rem; }
  td.score { font-weight: 700; }
  td.shop-failed { color: #b00020; }
  td.shop-stopped, td.shop-starting { color: #777; }
  p.trouble { color: #b00020; }
</style>
</head>
<body>
<main>
<h1>Incident room</h1>
<p class="note">Each learner's drill: problems solved of those drawn, the score, and when each was solved.</p>
<table>
<thead>
<tr><th>learner</th><th>solved</th><th>score</th><th>wrong answers</th><th>hints</th><th>minutes in</th><th>solved after</th><th>shop</th></tr>
</thead>
<tbody id="learners"></tbody>
</table>
<p class="trouble" id="trouble"></p>
</main>
<script>
"use strict";

function cell(row, text, kind) {
  const td = document.createElement("td");
  td.className = kind;
  td.textContent = text;
  row.appendChild(td);
}

function minutesAndSeconds(secs) {
  return Math.floor(secs / 60) + ":" + String(secs % 60).padStart(2, "0");
}

function show(room) {
  const rows = room.learners.map(function (learner) {
    const row = document.createElement("tr");
    row.dataset.learner = learner.name;
    cell(row, learner.name, "name");
    cell(row, learner.solved + " of " + learner.drawn, "solved");
    cell(row, String(learner.score), "score");
    cell(row, String(learner.wrong_answers), "wrong");
    cell(row, String(learner.hints), "hints");
    cell(row, String(learner.minutes), "minutes");
    cell(row, learner.solves_after_secs.map(minutesAndSeconds).join(", "), "solves");
    cell(row, learner.shop, "shop shop-" + learner.shop);
    return row;
  });
  document.getElementById("learners").replaceChildren(...rows);
  document.getElementById("trouble").textContent = "";
}

async function refresh() {
  try {
    const answer = await fetch("/api/room", { cache: "no-store" });
    if (!answer.ok) {
      throw new Error(answer.status + ": " + (await answer.text()));
    }
    show(await answer.json());
  } catch (failure) {
    document.getElementById("trouble").textContent = "The room does not answer: " + failure.message;
  }
}

refresh();
setInterval(refresh, REFRESH);
</script>
</body>
</html>
"#;

/// The page, as served.
pub fn html() -> String {
    TEMPLATE.replace("REFRESH", &REFRESH_MS.to_string())
}

#[cfg(test)]
mod tests {
    use shop::{Cause, Problem};

    use super::*;

    #[test]
    fn the_page_refreshes_and_holds_no_word_of_the_catalogue() {
        let page = html();
        assert!(page.contains("setInterval(refresh, 3000);"), "{page}");
        assert!(page.contains("fetch(\"/api/room\""));
        assert!(
            !page.contains("innerHTML"),
            "learners' names are set as text"
        );
        for problem in Problem::ALL {
            for word in [problem.slug(), problem.title(), problem.explanation()] {
                assert!(!page.contains(word), "{word:?} is on the page");
            }
        }
        for cause in Cause::ALL {
            assert!(
                !page.contains(cause.word()),
                "{:?} is on the page",
                cause.word()
            );
        }
    }
}
