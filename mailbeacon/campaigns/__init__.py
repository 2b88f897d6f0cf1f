"""Marketing campaigns: contacts and lists imported from CSV, personalised templates, unsubscribe.

The CSV reader (`contacts`, `addresses`) and the template renderer (`templates`)
are pure: they take bytes and text and never touch the store, so they are tested
on their own. `imports` and `preview` join them to the store.
"""
