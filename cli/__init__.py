"""The govcloud command line: parse, call one library function, render. No logic lives here."""
