"""The front end: `.net` text → syntax tree (`parse`) → validated network model (`build`,
`validate`) → intents (`lower`), every problem reported as a diagnostic pointing at the source.
"""
