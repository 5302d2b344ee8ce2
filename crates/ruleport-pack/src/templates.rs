//! The handlebars templates: built in (`templates/` of the workspace, embedded with
//! `include_str!`) or overridden file by file from a user folder with the same relative names.
//!
//! Each output format has its own registry whose escape function makes `{{value}}` safe for that
//! format (a JSON string's contents, a YAML double-quoted scalar, a .conf value with continuation
//! lines, Markdown inline text, a TOML string). Helpers write whole values and must be used with
//! triple braces (`{{{json tags}}}`), since their output is already complete:
//!
//! | helper | output |
//! |---|---|
//! | `json v` | any value as compact JSON |
//! | `arm v` | any value as JSON, strings with ARM's `[[` escape |
//! | `yaml v` | any value as a YAML flow value |
//! | `yaml_block s indent=N` | a YAML literal block (or a quoted scalar when a block cannot hold it) |
//! | `conf s` | a .conf value with continuation lines |
//! | `md s` / `md_paragraphs s` | Markdown inline text / paragraphs |
//! | `md_code s lang` | a fenced code block |
//! | `md_link text url` | a Markdown link |
//! | `md_embed s demote=N` | author Markdown, headings demoted, raw HTML and open fences neutralised |
//! | `toml s` | a TOML basic string |

use crate::escape;
use crate::PackError;
use handlebars::{handlebars_helper, Handlebars};
use serde_json::Value;
use std::path::Path;

/// The output format a template renders, which decides its escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    Json,
    Yaml,
    Conf,
    Markdown,
    Toml,
}

/// Every template: its relative name and built-in text.
pub const BUILTIN: &[(&str, Format, &str)] = &[
    (
        "elastic/rule.json.hbs",
        Format::Json,
        include_str!("../../../templates/elastic/rule.json.hbs"),
    ),
    (
        "elastic/rule.toml.hbs",
        Format::Toml,
        include_str!("../../../templates/elastic/rule.toml.hbs"),
    ),
    (
        "splunk/app.conf.hbs",
        Format::Conf,
        include_str!("../../../templates/splunk/app.conf.hbs"),
    ),
    (
        "splunk/savedsearches.conf.hbs",
        Format::Conf,
        include_str!("../../../templates/splunk/savedsearches.conf.hbs"),
    ),
    (
        "splunk/default.meta.hbs",
        Format::Conf,
        include_str!("../../../templates/splunk/default.meta.hbs"),
    ),
    (
        "sentinel/rule.yaml.hbs",
        Format::Yaml,
        include_str!("../../../templates/sentinel/rule.yaml.hbs"),
    ),
    (
        "sentinel/azuredeploy.json.hbs",
        Format::Json,
        include_str!("../../../templates/sentinel/azuredeploy.json.hbs"),
    ),
    (
        "sigma/rule.yml.hbs",
        Format::Yaml,
        include_str!("../../../templates/sigma/rule.yml.hbs"),
    ),
    (
        "docs/rule.md.hbs",
        Format::Markdown,
        include_str!("../../../templates/docs/rule.md.hbs"),
    ),
    (
        "docs/index.md.hbs",
        Format::Markdown,
        include_str!("../../../templates/docs/index.md.hbs"),
    ),
];

/// The loaded templates, one registry per format.
pub struct Templates {
    json: Handlebars<'static>,
    yaml: Handlebars<'static>,
    conf: Handlebars<'static>,
    markdown: Handlebars<'static>,
    toml: Handlebars<'static>,
    /// Names of the templates taken from the user's folder.
    pub overridden: Vec<String>,
}

handlebars_helper!(json_helper: |v: Json| escape::json_value(v));
handlebars_helper!(arm_helper: |v: Json| escape::json_value(&escape::arm_value(v)));
handlebars_helper!(yaml_helper: |v: Json| escape::yaml_flow(v));
handlebars_helper!(yaml_block_helper: |s: str, {indent: u64 = 2}| escape::yaml_block(s, indent as usize));
handlebars_helper!(conf_helper: |s: str| escape::conf_value(s));
handlebars_helper!(md_helper: |s: str| escape::md_inline(s));
handlebars_helper!(md_paragraphs_helper: |s: str| escape::md_paragraphs(s));
handlebars_helper!(md_code_helper: |s: str, lang: str| escape::md_code(s, lang));
handlebars_helper!(md_link_helper: |text: str, url: str| escape::md_link(text, url));
handlebars_helper!(md_embed_helper: |s: str, {demote: u64 = 2}| escape::md_embed(s, demote as usize));
handlebars_helper!(toml_helper: |s: str| escape::toml_string(s));

fn registry(format: Format) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_prevent_indent(true);
    match format {
        Format::Json => h.register_escape_fn(escape::json_str_content),
        Format::Yaml => h.register_escape_fn(escape::yaml_quoted),
        Format::Conf => h.register_escape_fn(escape::conf_value),
        Format::Markdown => h.register_escape_fn(escape::md_inline),
        Format::Toml => h.register_escape_fn(|s: &str| {
            let q = escape::toml_string(s);
            q[1..q.len() - 1].to_string()
        }),
    }
    h.register_helper("json", Box::new(json_helper));
    h.register_helper("arm", Box::new(arm_helper));
    h.register_helper("yaml", Box::new(yaml_helper));
    h.register_helper("yaml_block", Box::new(yaml_block_helper));
    h.register_helper("conf", Box::new(conf_helper));
    h.register_helper("md", Box::new(md_helper));
    h.register_helper("md_paragraphs", Box::new(md_paragraphs_helper));
    h.register_helper("md_code", Box::new(md_code_helper));
    h.register_helper("md_link", Box::new(md_link_helper));
    h.register_helper("md_embed", Box::new(md_embed_helper));
    h.register_helper("toml", Box::new(toml_helper));
    h
}

/// The `*.hbs` files in a templates folder and its pack folders, as relative names with `/`.
fn template_files(dir: &Path) -> Result<Vec<String>, PackError> {
    let io = |p: &Path| {
        let path = p.to_path_buf();
        move |source| PackError::Io { path, source }
    };
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new(), 0usize)];
    while let Some((d, prefix, depth)) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let entry = entry.map_err(io(&d))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if path.is_dir() && depth < 2 {
                stack.push((path, format!("{prefix}{name}/"), depth + 1));
            } else if name.ends_with(".hbs") {
                out.push(format!("{prefix}{name}"));
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Templates {
    /// The built-in templates, each replaced by `<dir>/<name>` when that file exists.
    pub fn load(dir: Option<&Path>) -> Result<Templates, PackError> {
        let mut t = Templates {
            json: registry(Format::Json),
            yaml: registry(Format::Yaml),
            conf: registry(Format::Conf),
            markdown: registry(Format::Markdown),
            toml: registry(Format::Toml),
            overridden: Vec::new(),
        };
        if let Some(d) = dir {
            if !d.is_dir() {
                return Err(PackError::Templates {
                    path: d.to_path_buf(),
                    message: "not a folder".into(),
                });
            }
            // A misspelt override would silently not apply: refuse unknown template files.
            let unknown: Vec<String> = template_files(d)?
                .into_iter()
                .filter(|n| !BUILTIN.iter().any(|(b, _, _)| b == n))
                .collect();
            if !unknown.is_empty() {
                let known: Vec<&str> = BUILTIN.iter().map(|(n, _, _)| *n).collect();
                return Err(PackError::Templates {
                    path: d.to_path_buf(),
                    message: format!(
                        "unknown template(s) {}; known: {}",
                        unknown.join(", "),
                        known.join(", ")
                    ),
                });
            }
        }
        for (name, format, builtin) in BUILTIN {
            let mut text = builtin.to_string();
            if let Some(d) = dir {
                let p = d.join(name);
                if p.is_file() {
                    text = std::fs::read_to_string(&p).map_err(|source| PackError::Io {
                        path: p.clone(),
                        source,
                    })?;
                    if let Some(line) = partial_line(&text) {
                        return Err(PackError::Templates {
                            path: p,
                            message: format!(
                                "line {line}: partials are not allowed in override templates \
                                 (two partials that include each other recurse without bound)"
                            ),
                        });
                    }
                    t.overridden.push(name.to_string());
                }
            }
            t.registry_mut(*format)
                .register_template_string(name, text)
                .map_err(|e| PackError::Template {
                    template: name.to_string(),
                    message: e.to_string(),
                })?;
        }
        Ok(t)
    }

    fn registry_mut(&mut self, f: Format) -> &mut Handlebars<'static> {
        match f {
            Format::Json => &mut self.json,
            Format::Yaml => &mut self.yaml,
            Format::Conf => &mut self.conf,
            Format::Markdown => &mut self.markdown,
            Format::Toml => &mut self.toml,
        }
    }

    fn registry_for(&self, name: &str) -> Option<&Handlebars<'static>> {
        let (_, f, _) = BUILTIN.iter().find(|(n, _, _)| *n == name)?;
        Some(match f {
            Format::Json => &self.json,
            Format::Yaml => &self.yaml,
            Format::Conf => &self.conf,
            Format::Markdown => &self.markdown,
            Format::Toml => &self.toml,
        })
    }

    /// Render template `name` with `data`.
    pub fn render(&self, name: &str, data: &Value) -> Result<String, PackError> {
        let reg = self.registry_for(name).ok_or_else(|| PackError::Template {
            template: name.to_string(),
            message: "no such template".into(),
        })?;
        reg.render(name, data).map_err(|e| PackError::Template {
            template: name.to_string(),
            message: e.to_string(),
        })
    }
}
/// The 1-based line of the first partial (`{{> x}}`, `{{#> x}}`, `{{#*inline}}`) in a template.
/// Override templates come from users and may not use them: handlebars does not bound the
/// recursion of partials that include each other, so they could overflow the stack.
fn partial_line(text: &str) -> Option<usize> {
    let mut rest = text;
    let mut offset = 0;
    while let Some(i) = rest.find("{{") {
        let after = rest[i + 2..].trim_start_matches(['{', '~']).trim_start();
        if after.starts_with('>') || after.starts_with("#>") || after.starts_with("#*") {
            let at = offset + i;
            return Some(text[..at].matches('\n').count() + 1);
        }
        offset += i + 2;
        rest = &rest[i + 2..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::partial_line;

    #[test]
    fn partials_are_found() {
        assert_eq!(partial_line("a {{x}}\n{{> docs/rule.md.hbs}}"), Some(2));
        assert_eq!(partial_line("{{~#> layout}}x{{/layout}}"), Some(1));
        assert_eq!(
            partial_line("\n\n{{#*inline \"a\"}}{{> a}}{{/inline}}"),
            Some(3)
        );
        assert_eq!(
            partial_line("{{{ raw }}} {{#each x}}{{this}}{{/each}} a > b"),
            None
        );
    }

    #[test]
    fn recursive_override_templates_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("docs")).expect("mkdir");
        std::fs::write(
            dir.path().join("docs/index.md.hbs"),
            "{{> docs/rule.md.hbs}}",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("docs/rule.md.hbs"),
            "{{> docs/index.md.hbs}}",
        )
        .expect("write");
        let err = super::Templates::load(Some(dir.path()))
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("partials are not allowed"),
            "{err}"
        );
    }
}
