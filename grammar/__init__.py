"""The `.net` language's Lark grammar (`netc.lark`), kept as data beside the code that reads it."""
