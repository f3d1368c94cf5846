//! Trains a small model (12 epochs) and shows, for the first 3 posters, their 5 nearest intros.
//!
//!     cargo run --example match -- [DATA_DIR]
//!
//! Without DATA_DIR a synthetic dataset of 200 movies is written to a temporary folder (removed at the end).
//! DATA_DIR is a dataset folder: movies.csv (with `poster` and `intro` columns) and train.txt.

use clipmatch::{Distance, Freeze, Model, ModelParams, TrainParams};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// Removes the folder when dropped (only folders this program made).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("clipmatch-rust-{}-{}-{}", tag, std::process::id(), nanos));
    TempDir(dir)
}

/// Parses CSV text (RFC 4180: fields in double quotes may hold commas, line breaks and "" for a quote).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut field_started = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                field_started = true;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                field_started = true;
            }
            '\r' => {}
            '\n' => {
                if field_started || !field.is_empty() || !row.is_empty() {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                field_started = false;
            }
            other => {
                field.push(other);
                field_started = true;
            }
        }
    }
    if field_started || !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

struct Movie {
    poster: PathBuf,
    intro: String,
}

fn read_movies(dir: &Path) -> Result<Vec<Movie>, String> {
    let csv_path = dir.join("movies.csv");
    let text = fs::read_to_string(&csv_path).map_err(|e| format!("{}: {}", csv_path.display(), e))?;
    let rows = parse_csv(text.strip_prefix('\u{feff}').unwrap_or(&text));
    let header = rows.first().ok_or_else(|| format!("{}: empty file", csv_path.display()))?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| format!("{}: no '{}' column in the header", csv_path.display(), name))
    };
    let (poster_col, intro_col) = (column("poster")?, column("intro")?);
    let mut movies = Vec::new();
    for (i, row) in rows.iter().enumerate().skip(1) {
        if row.len() <= poster_col.max(intro_col) {
            return Err(format!("{}: data row {} has only {} fields", csv_path.display(), i, row.len()));
        }
        let poster = PathBuf::from(row[poster_col].trim());
        let poster = if poster.is_absolute() { poster } else { dir.join(poster) };
        movies.push(Movie { poster, intro: row[intro_col].clone() });
    }
    Ok(movies)
}

fn preview(text: &str, chars: usize) -> String {
    let flat: String = text.chars().map(|c| if c.is_whitespace() { ' ' } else { c }).collect();
    let mut out: String = flat.chars().take(chars).collect();
    if flat.chars().count() > chars {
        out.push('…');
    }
    out
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    println!("clipmatch {} (ABI {})", clipmatch::version(), clipmatch::abi_version());
    let scratch = temp_dir("match");
    let data_dir = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = scratch.0.join("data");
            println!("synthesizing 200 movies into {}", dir.display());
            clipmatch::synthesize_dataset(&dir, 200, 7)?;
            dir
        }
    };
    let movies = read_movies(&data_dir)?;
    println!("{} movies in {}", movies.len(), data_dir.display());

    let mut model = Model::new(&ModelParams::new().embed_dim(64).seed(1))?;
    let train = TrainParams::new(scratch.0.join("run"))
        .epochs(12)
        .batch_size(32)
        .freeze(Freeze::Full)
        .learning_rate(2e-3)
        .encoder_learning_rate(2e-3)
        .seed(1);
    let mut last_stage = String::new();
    let mut progress = |stage: &str, done: usize, total: usize| {
        if stage != last_stage || done == total {
            // One line per stage and its end; "\r" updates in between would clutter logs.
            println!("  {:<14} {:>5}/{}", stage, done, total);
            last_stage = stage.to_string();
        }
        let _ = std::io::stdout().flush();
        true
    };
    let metrics = model.train(&data_dir, &train, Some(&mut progress))?;
    println!(
        "trained: held-out R@1 poster→intro {:.3}, intro→poster {:.3} (n = {}); train R@1 {:.3} (n = {})",
        metrics.heldout.poster_to_intro.r1,
        metrics.heldout.intro_to_poster.r1,
        metrics.heldout.n,
        metrics.train.poster_to_intro.r1,
        metrics.train.n
    );

    let shown = movies.len().min(3);
    let poster_paths: Vec<&Path> = movies.iter().take(shown).map(|m| m.poster.as_path()).collect();
    let intros: Vec<&str> = movies.iter().map(|m| m.intro.as_str()).collect();
    let posters = model.encode_posters(&poster_paths)?;
    let intro_embeddings = model.encode_intros(&intros)?;
    let k = 5;
    let (indices, distances) = posters.top_k(&intro_embeddings, k, Distance::OneMinusCosine)?;
    for (q, movie) in movies.iter().take(shown).enumerate() {
        println!("poster {} ({}); its own intro, #{}: {}", q, movie.poster.display(), q, preview(&movie.intro, 60));
        for j in 0..k {
            let index = indices[q * k + j];
            if index < 0 {
                continue;
            }
            let mark = if index as usize == q { "*" } else { " " };
            println!(
                "  {}{:>4}  d={:.3}  {}",
                mark,
                index,
                distances[q * k + j],
                preview(&movies[index as usize].intro, 60)
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("match: {}", e);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_csv;

    #[test]
    fn csv_quotes() {
        let rows = parse_csv("a,b\n\"x, \"\"y\"\"\nz\",2\r\n,\n");
        assert_eq!(rows, vec![vec!["a", "b"], vec!["x, \"y\"\nz", "2"], vec!["", ""]]);
    }
}
