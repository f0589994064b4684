//! ASA crypto dialect: lexer, parser, typed model, check, printer.
