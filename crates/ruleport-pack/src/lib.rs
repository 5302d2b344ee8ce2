//! Rule packs rendered from handlebars templates
