"""Generated newsletters of a given size and link count, shaped like real campaign mail.

Table layout with inline styles, MSO conditional comments with a VML button,
images wrapped in links, UTM query strings written with `&amp;`, a preheader,
and a quoted-printable multipart/alternative wrapper, as ESPs send them.
"""

from __future__ import annotations

import binascii
import random

_WORDS = (
    "quarterly update product launch customers pricing webinar offer team story release notes "
    "improvements faster reliable secure dashboard reports export integration partners community"
).split()


def newsletter_html(size: int, links: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    head = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:v="urn:schemas-microsoft-com:vml">\n'
        '<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8" />\n'
        "<title>Newsletter</title>\n<style type=\"text/css\">body{margin:0;padding:0} "
        "table{border-collapse:collapse} @media only screen and (max-width:600px){.col{width:100%!important}}</style>\n"
        "<!--[if mso]><style>.fallback{font-family:Arial,sans-serif}</style><![endif]-->\n</head>\n"
        '<body style="margin:0;padding:0;background:#f4f4f4">\n'
        '<div style="display:none;max-height:0;overflow:hidden">This month: news, offers and more&nbsp;&zwnj;</div>\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">\n'
    )
    blocks: list[str] = []
    for n in range(links):
        url = f"https://shop.example.com/{rng.choice(_WORDS)}/{n}?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=nov&amp;id={rng.randrange(10**6)}"
        if n % 5 == 0:
            link = f'<a href="{url}" target="_blank"><img src="https://cdn.example.com/img/{n}.png" width="560" alt="{rng.choice(_WORDS)}" style="display:block;border:0" /></a>'
        elif n % 7 == 0:
            link = (
                f'<!--[if mso]><v:roundrect href="{url}" style="height:40px;v-text-anchor:middle;width:200px;" arcsize="10%" '
                f'fillcolor="#1a73e8"><w:anchorlock/><center style="color:#ffffff">Shop now</center></v:roundrect><![endif]-->'
                f'<!--[if !mso]><!--><a href="{url}" style="background:#1a73e8;color:#ffffff;padding:10px 20px;'
                f'text-decoration:none;border-radius:4px;mso-hide:all">Shop now</a><!--<![endif]-->'
            )
        else:
            link = f'<a href="{url}" style="color:#1a73e8;text-decoration:underline">Read about {rng.choice(_WORDS)}</a>'
        blocks.append(link)
    body: list[str] = []
    filler_target = size - len(head) - sum(map(len, blocks)) - 200
    per_block = max(filler_target // max(links, 1), 0)
    for link in blocks:
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < per_block - 190:
            words.append(rng.choice(_WORDS))
        text = " ".join(words)
        body.append(
            '<tr><td class="col" style="padding:16px 24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;'
            f'line-height:22px;color:#333333">\n<p style="margin:0 0 12px 0">{text} &mdash; caf\u00e9</p>\n{link}\n</td></tr>\n'
        )
    tail = '</table>\n<p style="font-size:11px;color:#999">You get this because you subscribed. <a href="mailto:unsubscribe@example.com">Unsubscribe</a></p>\n</body>\n</html>\n'
    return (head + "".join(body) + tail).encode("utf-8")


def newsletter_message(size: int, links: int) -> bytes:
    html = newsletter_html(size, links)
    qp = binascii.b2a_qp(html).replace(b"\n", b"\r\n")
    return (
        b"From: News <news@example.com>\r\nTo: reader@example.org\r\nSubject: November news\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"nl\"\r\n\r\n"
        b"--nl\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNovember news: https://shop.example.com/\r\n"
        b"--nl\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + qp
        + b"\r\n--nl--\r\n"
    )
