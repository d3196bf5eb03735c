// Received mail read into what staff see: one realistic message per mail
// client (Gmail, Outlook/Exchange, Apple Mail on iPhone, Thunderbird), the
// automatic answers and the delivery reports of Postfix, Gmail and Exim.
// Every client fixture is checked with LF and with CRLF line ends (IMAP
// servers hand over CRLF; files on disk are often LF).
#include "adapters/email/received.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>

using namespace relance;
using namespace relance::email;
using Kind = ReceivedEmail::Kind;

namespace {

using test::crlf;

// The fixture as written (LF) and as an IMAP server sends it (CRLF).
std::vector<std::string> line_end_variants(std::string_view lf) { return {std::string(lf), crlf(lf)}; }

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

using Ids = std::vector<std::string>;

// ---- replies, one per mail client ------------------------------------------------

// Gmail (web, French UI): multipart/alternative, quoted-printable UTF-8, the
// attribution wrapped over two lines in the text part, div.gmail_quote in HTML.
constexpr std::string_view gmail_reply = R"EOF(Return-Path: <lea.martin@gmail.com>
Delivered-To: relance@example.org
Received: by mail-wr1-f41.google.com with SMTP id 5b1f17b1804b1-43cfe574976so12345f8f.1
        for <relance@example.org>; Mon, 23 Nov 2026 02:14:07 -0800 (PST)
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=gmail.com; s=20230601; t=1795432447;
        h=to:subject:message-id:date:from:in-reply-to:references:mime-version;
        bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
        b=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==
MIME-Version: 1.0
References: <relance.40@example.org>
 <CAF3x9qPearlier0001@mail.gmail.com>
 <relance.42@example.org>
In-Reply-To: <relance.42@example.org>
From: =?UTF-8?Q?L=C3=A9a_Martin?= <Lea.Martin@Gmail.com>
Date: Mon, 23 Nov 2026 11:14:05 +0100
Message-ID: <CAF3x9qP+7yUo9Z1c2M=QnNa5b8hX@mail.gmail.com>
Subject: Re: Nous ne vous avons pas vu depuis 14 jours
To: Organisme <relance@example.org>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Bonjour,

Oui je suis toujours int=C3=A9ress=C3=A9e par la formation, j'ai eu un souc=
i d'ordinateur pendant deux semaines. Je reprends les modules lundi.

L=C3=A9a

Le lun. 23 nov. 2026 =C3=A0 10:00, Organisme <relance@example.org> a
=C3=A9crit :

> Bonjour L=C3=A9a,
>
> Nous n'avons pas eu de nouvelles depuis 14 jours. Tout va bien ?
>
> L'=C3=A9quipe p=C3=A9dagogique
>

--000000000000a1b2c3d4e5f60718
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr"><div>Bonjour,</div><div><br></div><div>Oui je suis toujour=
s int=C3=A9ress=C3=A9e par la formation, j&#39;ai eu un souci d&#39;ordinat=
eur pendant deux semaines. Je reprends les modules lundi.</div><div><br></d=
iv><div>L=C3=A9a</div></div><br><div class=3D"gmail_quote gmail_quote_conta=
iner"><div dir=3D"ltr" class=3D"gmail_attr">Le lun. 23 nov. 2026 =C3=A0 10:=
00, Organisme &lt;<a href=3D"mailto:relance@example.org">relance@example.or=
g</a>&gt; a =C3=A9crit&nbsp;:<br></div><blockquote class=3D"gmail_quote" st=
yle=3D"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padd=
ing-left:1ex">Bonjour L=C3=A9a,<br><br>Nous n'avons pas eu de nouvelles dep=
uis 14 jours. Tout va bien ?<br></blockquote></div>

--000000000000a1b2c3d4e5f60718--
)EOF";

constexpr std::string_view gmail_reply_text =
    "Bonjour,\n\nOui je suis toujours intéressée par la formation, j'ai eu un souci d'ordinateur pendant deux "
    "semaines. Je reprends les modules lundi.\n\nLéa";

// The same Gmail HTML, decoded: what html_to_text gets when a client sends HTML only.
constexpr std::string_view gmail_html = R"EOF(<div dir="ltr"><div>Bonjour,</div><div><br></div><div>Oui je suis toujours intéressée par la formation, j&#39;ai eu un souci d&#39;ordinateur pendant deux semaines. Je reprends les modules lundi.</div><div><br></div><div>Léa</div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">Le lun. 23 nov. 2026 à 10:00, Organisme &lt;<a href="mailto:relance@example.org">relance@example.org</a>&gt; a écrit&nbsp;:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Bonjour Léa,<br><br>Nous n'avons pas eu de nouvelles depuis 14 jours. Tout va bien ?<br></blockquote></div>
)EOF";

// Outlook (Microsoft 365): text part with the "De : / Envoyé : / À : / Objet :"
// block under a rule; X-Auto-Response-Suppress on an ordinary message.
constexpr std::string_view outlook_reply = R"EOF(Received: from PAXPR08MB7070.eurprd08.prod.outlook.com ([fe80::1]) by
 PAXPR08MB7070.eurprd08.prod.outlook.com ([fe80::1%5]) with mapi id
 15.20.8158.013; Mon, 23 Nov 2026 09:31:12 +0000
From: Karim Benali <k.benali@outlook.fr>
To: Organisme <relance@example.org>
Subject: RE: Nous ne vous avons pas vu depuis 14 jours
Thread-Topic: Nous ne vous avons pas vu depuis 14 jours
Thread-Index: AQHbPc1xVhWJ0m2Bq0eJr0bIxk3NqrK8Q0kA
Date: Mon, 23 Nov 2026 09:31:12 +0000
Message-ID: <PAXPR08MB70701A2B3C4D5E6F7A8B9C0DA1B2C@PAXPR08MB7070.eurprd08.prod.outlook.com>
References: <relance.42@example.org>
In-Reply-To: <relance.42@example.org>
Accept-Language: fr-FR, en-US
Content-Language: fr-FR
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
X-Auto-Response-Suppress: DR, OOF, AutoReply
msip_labels:
Content-Type: multipart/alternative;
	boundary="_000_PAXPR08MB70701A2B3C4D5E6F7A8B9C0DA1B2CPAXPR08MB7070eurp_"
MIME-Version: 1.0

--_000_PAXPR08MB70701A2B3C4D5E6F7A8B9C0DA1B2CPAXPR08MB7070eurp_
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Bonjour,

Je n'ai pas pu me connecter depuis deux semaines : mon mot de passe ne fonc=
tionne plus.

Cordialement,
Karim Benali

________________________________
De : Organisme <relance@example.org>
Envoy=C3=A9 : lundi 23 novembre 2026 10:00
=C3=80 : Karim Benali <k.benali@outlook.fr>
Objet : Nous ne vous avons pas vu depuis 14 jours

Bonjour Karim,

Nous n'avons pas eu de nouvelles depuis 14 jours.

--_000_PAXPR08MB70701A2B3C4D5E6F7A8B9C0DA1B2CPAXPR08MB7070eurp_
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<html><body><div>Bonjour,</div><div>Je n'ai pas pu me connecter.</div></body></html>

--_000_PAXPR08MB70701A2B3C4D5E6F7A8B9C0DA1B2CPAXPR08MB7070eurp_--
)EOF";

constexpr std::string_view outlook_reply_text =
    "Bonjour,\n\nJe n'ai pas pu me connecter depuis deux semaines : mon mot de passe ne fonctionne plus.\n\n"
    "Cordialement,\nKarim Benali";

// Outlook / Exchange on premises, plain text in ISO-8859-1 with a windows-1252
// apostrophe (0x92), "-----Message d'origine-----" above the header block.
constexpr std::string_view outlook_original_message = R"EOF(From: =?iso-8859-1?Q?Roux_S=E9bastien?= <s.roux@saint-etienne.fr>
To: "Organisme" <relance@example.org>
Subject: RE: Nous ne vous avons pas vu depuis 14 jours
Date: Tue, 24 Nov 2026 08:05:44 +0100
Message-ID: <000001db3e2a$4f5e6a70$ee1b3f50$@saint-etienne.fr>
In-Reply-To: <relance.42@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable
X-Mailer: Microsoft Outlook 16.0
Thread-Index: AQHbPc1xVhWJ0m2Bq0eJr0bIxk3NqrK8Q0kA

Bonjour Madame,

Je vous confirme ma pr=E9sence =E0 la session de rattrapage du 30 novembre,=
 merci =E0 l=92=E9quipe.

Bien =E0 vous,
S=E9bastien Roux
Service comptabilit=E9 - Mairie de Saint-=C9tienne

-----Message d'origine-----
De : Organisme [mailto:relance@example.org]
Envoy=E9 : lundi 23 novembre 2026 10:00
=C0 : Roux S=E9bastien
Objet : Nous ne vous avons pas vu depuis 14 jours

Bonjour S=E9bastien,
)EOF";

// New Outlook / OWA, HTML only, base64: the reply, then div#appendonsend, an
// <hr>, div#divRplyFwdMsg and the quoted message as siblings.
constexpr std::string_view outlook_html_only = R"EOF(From: Karim Benali <k.benali@outlook.fr>
To: Organisme <relance@example.org>
Subject: RE: Nous ne vous avons pas vu depuis 14 jours
Date: Mon, 23 Nov 2026 09:31:12 +0000
Message-ID: <AM0PR08MB5555A1B2C3D4E5F6A7B8C9D0E1F2@AM0PR08MB5555.eurprd08.prod.outlook.com>
In-Reply-To: <relance.42@example.org>
References: <relance.42@example.org>
X-MS-Exchange-Organization-SCL: 1
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: base64
MIME-Version: 1.0

PGh0bWw+PGhlYWQ+CjxtZXRhIGh0dHAtZXF1aXY9IkNvbnRlbnQtVHlwZSIgY29udGVudD0idGV4
dC9odG1sOyBjaGFyc2V0PXV0Zi04Ij4KPHN0eWxlIHR5cGU9InRleHQvY3NzIiBzdHlsZT0iZGlz
cGxheTpub25lOyI+IFAge21hcmdpbi10b3A6MDttYXJnaW4tYm90dG9tOjA7fSA8L3N0eWxlPgo8
L2hlYWQ+Cjxib2R5IGRpcj0ibHRyIj4KPGRpdiBjbGFzcz0iZWxlbWVudFRvUHJvb2YiIHN0eWxl
PSJmb250LWZhbWlseTogQXB0b3MsIENhbGlicmksIHNhbnMtc2VyaWY7IGZvbnQtc2l6ZTogMTJw
dDsiPkJvbmpvdXIsPC9kaXY+CjxkaXYgY2xhc3M9ImVsZW1lbnRUb1Byb29mIiBzdHlsZT0iZm9u
dC1mYW1pbHk6IEFwdG9zLCBDYWxpYnJpLCBzYW5zLXNlcmlmOyBmb250LXNpemU6IDEycHQ7Ij5K
ZSBuJiMzOTthaSBwYXMgcHUgbWUgY29ubmVjdGVyIGRlcHVpcyBkZXV4IHNlbWFpbmVzJm5ic3A7
OiBtb24gbW90IGRlIHBhc3NlIG5lIGZvbmN0aW9ubmUgcGx1cy48L2Rpdj4KPGRpdiBjbGFzcz0i
ZWxlbWVudFRvUHJvb2YiIHN0eWxlPSJmb250LWZhbWlseTogQXB0b3MsIENhbGlicmksIHNhbnMt
c2VyaWY7IGZvbnQtc2l6ZTogMTJwdDsiPjxicj48L2Rpdj4KPGRpdiBjbGFzcz0iZWxlbWVudFRv
UHJvb2YiIHN0eWxlPSJmb250LWZhbWlseTogQXB0b3MsIENhbGlicmksIHNhbnMtc2VyaWY7IGZv
bnQtc2l6ZTogMTJwdDsiPkNvcmRpYWxlbWVudCw8L2Rpdj4KPGRpdiBjbGFzcz0iZWxlbWVudFRv
UHJvb2YiIHN0eWxlPSJmb250LWZhbWlseTogQXB0b3MsIENhbGlicmksIHNhbnMtc2VyaWY7IGZv
bnQtc2l6ZTogMTJwdDsiPkthcmltIEJlbmFsaTwvZGl2Pgo8ZGl2IGlkPSJhcHBlbmRvbnNlbmQi
PjwvZGl2Pgo8aHIgc3R5bGU9ImRpc3BsYXk6aW5saW5lLWJsb2NrO3dpZHRoOjk4JSIgdGFiaW5k
ZXg9Ii0xIj4KPGRpdiBpZD0iZGl2UnBseUZ3ZE1zZyIgZGlyPSJsdHIiPjxmb250IGZhY2U9IkNh
bGlicmksIHNhbnMtc2VyaWYiIHN0eWxlPSJmb250LXNpemU6MTFwdCIgY29sb3I9IiMwMDAwMDAi
PjxiPkRlIDo8L2I+IE9yZ2FuaXNtZSAmbHQ7cmVsYW5jZUBleGFtcGxlLm9yZyZndDs8YnI+Cjxi
PkVudm95w6kgOjwvYj4gbHVuZGkgMjMgbm92ZW1icmUgMjAyNiAxMDowMDxicj4KPGI+w4AgOjwv
Yj4gS2FyaW0gQmVuYWxpICZsdDtrLmJlbmFsaUBvdXRsb29rLmZyJmd0Ozxicj4KPGI+T2JqZXQg
OjwvYj4gTm91cyBuZSB2b3VzIGF2b25zIHBhcyB2dSBkZXB1aXMgMTQgam91cnM8L2ZvbnQ+Cjxk
aXY+Jm5ic3A7PC9kaXY+CjwvZGl2Pgo8ZGl2Pgo8cD5Cb25qb3VyIEthcmltLDwvcD4KPHA+Tm91
cyBuJ2F2b25zIHBhcyBldSBkZSBub3V2ZWxsZXMgZGVwdWlzIDE0IGpvdXJzLjwvcD4KPC9kaXY+
CjwvYm9keT4KPC9odG1sPgo=
)EOF";

// Apple Mail on iPhone: "Envoyé de mon iPhone" then "> Le ... a écrit :" and
// the quote; HTML with blockquote type=cite.
constexpr std::string_view iphone_reply = R"EOF(Content-Type: multipart/alternative; boundary=Apple-Mail-8C2F0A1E-5B3D-4F6A-9E7B-1D2C3B4A5F60
Content-Transfer-Encoding: 7bit
From: =?utf-8?Q?In=C3=A8s_Dupont?= <ines.dupont@icloud.com>
Mime-Version: 1.0 (1.0)
Date: Mon, 23 Nov 2026 18:42:10 +0100
Subject: =?utf-8?Q?Re=C2=A0:_Nous_ne_vous_avons_pas_vu_depuis_14_jours?=
Message-Id: <5E1C7A3B-2D4F-4B8E-9A6C-7F0E1D2C3B4A@icloud.com>
References: <relance.44@example.org>
In-Reply-To: <relance.44@example.org>
To: Organisme <relance@example.org>
X-Mailer: iPhone Mail (22B91)

--Apple-Mail-8C2F0A1E-5B3D-4F6A-9E7B-1D2C3B4A5F60
Content-Type: text/plain;
	charset=utf-8
Content-Transfer-Encoding: quoted-printable

Bonjour,
Oui tout va bien, j=E2=80=99=C3=A9tais en stage. Je me remets aux cours ce =
week-end.

Envoy=C3=A9 de mon iPhone

> Le 23 nov. 2026 =C3=A0 10:00, Organisme <relance@example.org> a =C3=A9cri=
t :
>
> =EF=BB=BFBonjour In=C3=A8s,
>
> Nous n'avons pas eu de nouvelles depuis 14 jours.

--Apple-Mail-8C2F0A1E-5B3D-4F6A-9E7B-1D2C3B4A5F60
Content-Type: text/html;
	charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><head><meta http-equiv=3D"content-type" content=3D"text/html; charset=
=3Dutf-8"></head><body dir=3D"auto">Bonjour,<div>Oui tout va bien, j=E2=80=
=99=C3=A9tais en stage. Je me remets aux cours ce week-end.<br><br><div dir=
=3D"ltr">Envoy=C3=A9 de mon iPhone</div><div dir=3D"ltr"><br><blockquote ty=
pe=3D"cite">Le 23 nov. 2026 =C3=A0 10:00, Organisme &lt;relance@example.org=
&gt; a =C3=A9crit&nbsp;:<br><br></blockquote></div><blockquote type=3D"cite=
"><div dir=3D"ltr">=EF=BB=BFBonjour In=C3=A8s,<br><br>Nous n'avons pas eu d=
e nouvelles depuis 14 jours.</div></blockquote></div></body></html>=

--Apple-Mail-8C2F0A1E-5B3D-4F6A-9E7B-1D2C3B4A5F60--
)EOF";

constexpr std::string_view iphone_reply_text =
    "Bonjour,\nOui tout va bien, j’étais en stage. Je me remets aux cours ce week-end.\n\nEnvoyé de mon iPhone";

// Thunderbird: windows-1252, quoted-printable, format=flowed (soft breaks end
// in "=20"), ISO-8859-1 base64 encoded-words in From and Subject.
constexpr std::string_view thunderbird_reply = R"EOF(Message-ID: <8d1f2e3a-4b5c-6d7e-8f90-a1b2c3d4e5f6@laposte.net>
Date: Tue, 24 Nov 2026 21:03:57 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: =?ISO-8859-1?B?UmU6IE/5IGVuIOp0ZXMtdm91cyA/?=
To: Organisme <relance@example.org>
References: <relance.45@example.org>
Content-Language: fr
From: =?ISO-8859-1?B?RnJhbudvaXMgTGVm6HZyZQ==?= <francois.lefevre@laposte.net>
In-Reply-To: <relance.45@example.org>
Content-Type: text/plain; charset=windows-1252; format=flowed
Content-Transfer-Encoding: quoted-printable

Bonjour,

Merci pour votre message. J=92ai =E9t=E9 absent =E0 cause d=92un d=E9m=E9na=
gement,=20
mais je reprends la formation d=E8s cette semaine, c=92est promis. Le=20
module 4 est d=E9j=E0 commenc=E9.

Cordialement,
Fran=E7ois Lef=E8vre

Le 23/11/2026 =E0 10:00, Organisme a =E9crit :
> Bonjour Fran=E7ois,
>
> Nous n'avons pas eu de nouvelles depuis 14 jours. Pouvez-vous nous=20
> dire o=F9 vous en =EAtes ?
)EOF";

constexpr std::string_view thunderbird_reply_text =
    "Bonjour,\n\nMerci pour votre message. J’ai été absent à cause d’un déménagement, mais je reprends la "
    "formation dès cette semaine, c’est promis. Le module 4 est déjà commencé.\n\nCordialement,\nFrançois Lefèvre";

// A reply with files: a PDF (RFC 2231 file name), a photo (RFC 2047 file name,
// as Gmail writes it) and Outlook's inline signature image, which is not one.
constexpr std::string_view reply_with_attachments = R"EOF(From: =?UTF-8?Q?L=C3=A9a_Martin?= <lea.martin@gmail.com>
To: relance@example.org
Subject: Re: Nous ne vous avons pas vu depuis 14 jours
Date: Wed, 25 Nov 2026 09:12:00 +0100
Message-ID: <CAF3x9qPwithfiles@mail.gmail.com>
In-Reply-To: <relance.46@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed-1"

--mixed-1
Content-Type: multipart/alternative; boundary="alt-1"

--alt-1
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: 8bit

Bonjour,

Voici mon arrêt de travail en pièce jointe.

Léa

--alt-1
Content-Type: multipart/related; boundary="rel-1"

--rel-1
Content-Type: text/html; charset="UTF-8"

<div>Bonjour,</div><div>Voici mon arrêt de travail.</div><img src="cid:image001.png@01DB3E2A.4F5E6A70">

--rel-1
Content-Type: image/png; name="image001.png"
Content-Disposition: inline; filename="image001.png"
Content-ID: <image001.png@01DB3E2A.4F5E6A70>
Content-Transfer-Encoding: base64

iVBORw0KGgo=

--rel-1--

--alt-1--

--mixed-1
Content-Type: application/pdf; name="=?UTF-8?Q?Arr=C3=AAt_de_travail.pdf?="
Content-Disposition: attachment;
 filename*=UTF-8''Arr%C3%AAt%20de%20travail%20L%C3%A9a.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK

--mixed-1
Content-Type: image/jpeg; name="=?UTF-8?Q?photo_certificat_m=C3=A9dical.jpg?="
Content-Disposition: attachment; filename="=?UTF-8?Q?photo_certificat_m=C3=A9dical.jpg?="
Content-Transfer-Encoding: base64

/9j/4AAQSkZJRgABAQ==

--mixed-1--
)EOF";

// ---- automatic answers ---------------------------------------------------------

// Exchange Online out-of-office: ISO-8859-1 subject with a no-break space.
constexpr std::string_view exchange_out_of_office = R"EOF(From: Karim Benali <k.benali@entreprise.fr>
To: Organisme <relance@example.org>
Subject: =?iso-8859-1?Q?R=E9ponse_automatique=A0:_Nous_ne_vous_avons_pas_vu_depuis_?=
 =?iso-8859-1?Q?14_jours?=
Thread-Topic: Nous ne vous avons pas vu depuis 14 jours
Date: Mon, 23 Nov 2026 09:00:04 +0000
Message-ID: <f3a1b2c3d4e5f60718293a4b5c6d7e8f@PAXPR08MB7070.eurprd08.prod.outlook.com>
In-Reply-To: <relance.42@example.org>
References: <relance.42@example.org>
Auto-Submitted: auto-generated
X-MS-Exchange-Inbox-Rules-Loop: k.benali@entreprise.fr
X-Auto-Response-Suppress: All
X-MS-Exchange-Transport-CrossTenantHeadersStamped: PAXPR08MB7070
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

Bonjour,

Je suis absent du bureau jusqu'au 4 d=E9cembre inclus, avec un acc=E8s limit=
=E9 =E0 ma messagerie.

Karim Benali
)EOF";

std::string simple_mail(std::string_view extra_headers, std::string_view subject, std::string_view body) {
  std::string m = "From: Karim Benali <k.benali@entreprise.fr>\n"
                  "To: relance@example.org\n"
                  "Date: Mon, 23 Nov 2026 09:00:04 +0000\n"
                  "Message-ID: <abc123@entreprise.fr>\n"
                  "In-Reply-To: <relance.42@example.org>\n";
  m += "Subject: ";
  m += subject;
  m += "\n";
  m += extra_headers;
  m += "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n";
  m += body;
  return m;
}

// ---- delivery reports ----------------------------------------------------------

// Postfix: multipart/report with the returned headers only; Postfix marks it
// Auto-Submitted: auto-replied.
constexpr std::string_view postfix_bounce = R"EOF(Return-Path: <>
Delivered-To: relance@example.org
Received: by mail.example.org (Postfix)
	id 4Zk2Lm0Q1yz9sT; Mon, 23 Nov 2026 10:00:03 +0100 (CET)
Date: Mon, 23 Nov 2026 10:00:03 +0100 (CET)
From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: relance@example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4Zk2Lm0Q1yz9sT.1795424403/mail.example.org"
Content-Transfer-Encoding: 8bit
Message-Id: <20261123090003.4Zk2Lm0Q1yz9sT@mail.example.org>

This is a MIME-encapsulated message.

--4Zk2Lm0Q1yz9sT.1795424403/mail.example.org
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<lea@example.fr>: host mx.example.fr[192.0.2.10] said: 550 5.1.1
    <lea@example.fr>: Recipient address rejected: User unknown (in reply to
    RCPT TO command)

--4Zk2Lm0Q1yz9sT.1795424403/mail.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org
X-Postfix-Queue-ID: 4Zk2Lm0Q1yz9sT
X-Postfix-Sender: rfc822; relance@example.org
Arrival-Date: Mon, 23 Nov 2026 10:00:01 +0100 (CET)

Final-Recipient: rfc822; lea@example.fr
Original-Recipient: rfc822;lea@example.fr
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.fr
Diagnostic-Code: smtp; 550 5.1.1 <lea@example.fr>: Recipient address rejected:
    User unknown

--4Zk2Lm0Q1yz9sT.1795424403/mail.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <relance@example.org>
Received: from localhost (localhost [127.0.0.1])
	by mail.example.org (Postfix) with ESMTPSA id 4Zk2Lm0Q1yz9sT
	for <lea@example.fr>; Mon, 23 Nov 2026 10:00:01 +0100 (CET)
From: Organisme <relance@example.org>
To: =?UTF-8?Q?L=C3=A9a_Martin?= <lea@example.fr>
Subject: Nous ne vous avons pas vu depuis 14 jours
Date: Mon, 23 Nov 2026 09:00:00 +0000
Message-ID:
 <relance.42@example.org>
MIME-Version: 1.0

--4Zk2Lm0Q1yz9sT.1795424403/mail.example.org--
)EOF";

// Postfix warning: still retrying. Not a failure, not a sign of life.
constexpr std::string_view postfix_delayed = R"EOF(Date: Mon, 23 Nov 2026 14:00:03 +0100 (CET)
From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: relance@example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="5Ab3Cd4Ef5Gh.1795438803/mail.example.org"
Message-Id: <20261123130003.5Ab3Cd4Ef5Gh@mail.example.org>

--5Ab3Cd4Ef5Gh.1795438803/mail.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.org.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.

<lea@example.fr>: connect to mx.example.fr[192.0.2.10]:25: Connection timed out

--5Ab3Cd4Ef5Gh.1795438803/mail.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org
X-Postfix-Queue-ID: 5Ab3Cd4Ef5Gh
Arrival-Date: Mon, 23 Nov 2026 10:00:01 +0100 (CET)

Final-Recipient: rfc822; lea@example.fr
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.fr[192.0.2.10]:25: Connection
    timed out
Will-Retry-Until: Sat, 28 Nov 2026 10:00:01 +0100 (CET)

--5Ab3Cd4Ef5Gh.1795438803/mail.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Organisme <relance@example.org>
Message-ID: <relance.42@example.org>
Subject: Nous ne vous avons pas vu depuis 14 jours

--5Ab3Cd4Ef5Gh.1795438803/mail.example.org--
)EOF";

// Gmail: the human part in multipart/related (with its icon), the report, then
// the whole returned message (appended by gmail_bounce()).
constexpr std::string_view gmail_bounce_head = R"EOF(Delivered-To: relance@example.org
Received: by 2002:a05:6a10:1234:0:0:0:0 with SMTP id a1csp123456pxb;
        Mon, 23 Nov 2026 01:00:03 -0800 (PST)
Return-Path: <>
Received: from mail-sor-f69.google.com (mail-sor-f69.google.com. [209.85.220.69])
        by mx.google.com with SMTPS id a1sor12345wrx.2026.11.23.01.00.03
        for <relance@example.org>; Mon, 23 Nov 2026 01:00:03 -0800 (PST)
Content-Type: multipart/report; boundary="000000000000b2c3d4e5f6a7b8c9"; report-type=delivery-status
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: relance@example.org
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Message-ID: <6741a1b2.050a0220.3c4d5e.6f70.GMR@mx.google.com>
Date: Mon, 23 Nov 2026 01:00:03 -0800 (PST)

--000000000000b2c3d4e5f6a7b8c9
Content-Type: multipart/related; boundary="000000000000c3d4e5f6a7b8c9d0"

--000000000000c3d4e5f6a7b8c9d0
Content-Type: multipart/alternative; boundary="000000000000d4e5f6a7b8c9d0e1"

--000000000000d4e5f6a7b8c9d0e1
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable


** Adresse introuvable **

Votre message n'a pas =C3=A9t=C3=A9 distribu=C3=A9 =C3=A0 lea.martin.old@gmail.c=
om, car l'adresse est introuvable ou ne peut pas recevoir d'e-mails.

En savoir plus : https://support.google.com/mail/?p=3DNoSuchUser

La r=C3=A9ponse du serveur distant est la suivante=C2=A0:

550 5.1.1 The email account that you tried to reach does not exist.

--000000000000d4e5f6a7b8c9d0e1
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<html><body><h2>Adresse introuvable</h2><img src=3D"cid:icon.png"></body></html>

--000000000000d4e5f6a7b8c9d0e1--

--000000000000c3d4e5f6a7b8c9d0
Content-Type: image/png; name="icon.png"
Content-Disposition: attachment; filename="icon.png"
Content-Transfer-Encoding: base64
Content-ID: <icon.png>

iVBORw0KGgo=

--000000000000c3d4e5f6a7b8c9d0--

--000000000000b2c3d4e5f6a7b8c9
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; relance@example.org
Arrival-Date: Mon, 23 Nov 2026 01:00:01 -0800 (PST)
X-Original-Message-ID: <relance.43@example.org>

Final-Recipient: rfc822; lea.martin.old@gmail.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.27.26, the server for the
 domain gmail.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.
 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a1-20020a05 - gsmtp
Last-Attempt-Date: Mon, 23 Nov 2026 01:00:03 -0800 (PST)
)EOF";

constexpr std::string_view gmail_bounce_returned = R"EOF(
--000000000000b2c3d4e5f6a7b8c9
Content-Type: message/rfc822

From: Organisme <relance@example.org>
To: =?UTF-8?Q?L=C3=A9a_Martin?= <lea.martin.old@gmail.com>
Subject: Nous ne vous avons pas vu depuis 14 jours
Date: Mon, 23 Nov 2026 09:00:00 +0000
Message-ID: <relance.43@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Bonjour L=C3=A9a,
)EOF";

std::string gmail_bounce(bool with_returned_message) {
  std::string m(gmail_bounce_head);
  if (with_returned_message) m += gmail_bounce_returned;
  m += "\n--000000000000b2c3d4e5f6a7b8c9--\n";
  return m;
}

// Exim's free-form bounce (no multipart/report): the copy of the message below
// the text carries our Message-ID.
constexpr std::string_view exim_bounce = R"EOF(Return-path: <>
Envelope-to: relance@example.org
Received: from mail by mx.example.org with local (Exim 4.96)
	id 1tEkZp-000Abc-1s
	for relance@example.org; Mon, 23 Nov 2026 10:00:05 +0100
X-Failed-Recipients: lea@example.fr
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx.example.org>
To: relance@example.org
Content-Type: text/plain; charset=us-ascii
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1tEkZp-000Abc-1s@mx.example.org>
Date: Mon, 23 Nov 2026 10:00:05 +0100

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  lea@example.fr
    host mx.example.fr [192.0.2.10]
    SMTP error from remote mail server after RCPT TO:<lea@example.fr>:
    550 5.1.1 <lea@example.fr>: Recipient address rejected: User unknown

------ This is a copy of the message, including all the headers. ------

Return-path: <relance@example.org>
Received: from [127.0.0.1] (helo=localhost)
	by mx.example.org with esmtpsa (Exim 4.96)
	id 1tEkZo-000Abb-0q
	for lea@example.fr; Mon, 23 Nov 2026 10:00:04 +0100
From: Organisme <relance@example.org>
To: lea@example.fr
Subject: Nous ne vous avons pas vu depuis 14 jours
Date: Mon, 23 Nov 2026 09:00:00 +0000
Message-ID: <relance.57@example.org>

Bonjour Léa,
)EOF";

}  // namespace

// ---- replies -----------------------------------------------------------------------

TEST_CASE("received: Gmail reply in French, attribution wrapped over two lines", "[received]") {
  for (const auto& raw : line_end_variants(gmail_reply)) {
    INFO((raw.find('\r') == std::string::npos ? "LF" : "CRLF"));
    const auto r = parse_received(raw);
    CHECK(r.problem.empty());
    CHECK(r.kind == Kind::message);
    CHECK(r.text == gmail_reply_text);
    CHECK(r.quote_removed);
    CHECK(r.from_name == "Léa Martin");
    CHECK(r.from_address == "lea.martin@gmail.com");
    CHECK(r.subject == "Re: Nous ne vous avons pas vu depuis 14 jours");
    CHECK(r.message_id == "CAF3x9qP+7yUo9Z1c2M=QnNa5b8hX@mail.gmail.com");
    CHECK(r.refs == Ids{"relance.42@example.org", "CAF3x9qPearlier0001@mail.gmail.com", "relance.40@example.org"});
    REQUIRE(r.date);
    CHECK(*r.date == test::utc("2026-11-23T10:14:05Z"));
    CHECK(r.attachments.empty());
    CHECK(r.bounced_ids.empty());
    CHECK(r.bounce_detail.empty());
  }
}

TEST_CASE("received: Gmail HTML part alone gives the same words", "[received]") {
  CHECK(html_to_text(gmail_html) == gmail_reply_text);
}

TEST_CASE("received: Outlook reply, French header block under a rule", "[received]") {
  for (const auto& raw : line_end_variants(outlook_reply)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::message);  // X-Auto-Response-Suppress is on ordinary Outlook mail
    CHECK(r.text == outlook_reply_text);
    CHECK(r.quote_removed);
    CHECK(r.from_name == "Karim Benali");
    CHECK(r.from_address == "k.benali@outlook.fr");
    CHECK(r.subject == "RE: Nous ne vous avons pas vu depuis 14 jours");
    CHECK(r.refs == Ids{"relance.42@example.org"});
    CHECK(r.message_id == "PAXPR08MB70701A2B3C4D5E6F7A8B9C0DA1B2C@PAXPR08MB7070.eurprd08.prod.outlook.com");
  }
}

TEST_CASE("received: Outlook plain text in ISO-8859-1 with Message d'origine", "[received]") {
  for (const auto& raw : line_end_variants(outlook_original_message)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::message);
    // 0x92 in a Latin-1 labelled body is windows-1252's apostrophe.
    CHECK(r.text ==
          "Bonjour Madame,\n\nJe vous confirme ma présence à la session de rattrapage du 30 novembre, merci à "
          "l’équipe.\n\nBien à vous,\nSébastien Roux\nService comptabilité - Mairie de Saint-Étienne");
    CHECK(r.quote_removed);
    CHECK(r.from_name == "Roux Sébastien");
    CHECK(r.from_address == "s.roux@saint-etienne.fr");
    CHECK(r.message_id == "000001db3e2a$4f5e6a70$ee1b3f50$@saint-etienne.fr");
    CHECK(r.refs == Ids{"relance.42@example.org"});
  }
}

TEST_CASE("received: new Outlook HTML only in base64, history after appendonsend dropped", "[received]") {
  for (const auto& raw : line_end_variants(outlook_html_only)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::message);
    CHECK(r.text ==
          "Bonjour,\nJe n'ai pas pu me connecter depuis deux semaines : mon mot de passe ne fonctionne plus.\n\n"
          "Cordialement,\nKarim Benali");
    CHECK(r.quote_removed);
  }
}

TEST_CASE("received: iPhone reply keeps Envoye de mon iPhone", "[received]") {
  for (const auto& raw : line_end_variants(iphone_reply)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::message);
    CHECK(r.text == iphone_reply_text);
    CHECK(r.quote_removed);
    CHECK(r.from_name == "Inès Dupont");
    CHECK(r.from_address == "ines.dupont@icloud.com");
    CHECK(r.subject == "Re\u00a0: Nous ne vous avons pas vu depuis 14 jours");
    CHECK(r.refs == Ids{"relance.44@example.org"});
    REQUIRE(r.date);
    CHECK(*r.date == test::utc("2026-11-23T17:42:10Z"));
  }
}

TEST_CASE("received: iPhone HTML part alone gives the same words", "[received]") {
  const std::string html =
      "<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\"></head>"
      "<body dir=\"auto\">Bonjour,<div>Oui tout va bien, j’étais en stage. Je me remets aux cours ce week-end."
      "<br><br><div dir=\"ltr\">Envoyé de mon iPhone</div><div dir=\"ltr\"><br><blockquote type=\"cite\">Le 23 "
      "nov. 2026 à 10:00, Organisme &lt;relance@example.org&gt; a écrit&nbsp;:<br><br></blockquote></div>"
      "<blockquote type=\"cite\"><div dir=\"ltr\">Bonjour Inès,<br><br>Nous n'avons pas eu de nouvelles depuis 14 "
      "jours.</div></blockquote></div></body></html>";
  CHECK(html_to_text(html) == iphone_reply_text);
}

TEST_CASE("received: Thunderbird windows-1252 format=flowed reply", "[received]") {
  for (const auto& raw : line_end_variants(thunderbird_reply)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::message);
    CHECK(r.text == thunderbird_reply_text);
    CHECK(r.quote_removed);
    CHECK(r.from_name == "François Lefèvre");
    CHECK(r.from_address == "francois.lefevre@laposte.net");
    CHECK(r.subject == "Re: Où en êtes-vous ?");
    CHECK(r.refs == Ids{"relance.45@example.org"});
  }
}

TEST_CASE("received: base64 UTF-8 body with CRLF inside", "[received]") {
  const std::string raw = "From: =?UTF-8?B?Q2hsb8OpIEJlcm5hcmQ=?= <chloe.bernard@orange.fr>\n"
                          "To: relance@example.org\n"
                          "Subject: =?UTF-8?B?UmU6IE5vdXMgbmUgdm91cyBhdm9ucyBwYXMgdnUgKMOpdMOpKQ==?=\n"
                          "Date: Thu, 26 Nov 2026 07:45:00 +0100\n"
                          "Message-ID: <1a2b3c4d.orange@orange.fr>\n"
                          "MIME-Version: 1.0\n"
                          "Content-Type: text/plain; charset=utf-8\n"
                          "Content-Transfer-Encoding: base64\n\n"
                          "Qm9uam91ciwNCkplIHN1aXMgZMOpc29sw6llLCBq4oCZYWkgw6l0w6kgaG9zcGl0YWxpc8OpZS4g\n"
                          "SmUgcmVwcmVuZHMgZMOocyBxdWUgcG9zc2libGUuDQpNZXJjaSBkZSB2b3RyZSBwYXRpZW5jZSwN\n"
                          "CkNobG/DqQ0K\n";
  for (const auto& v : line_end_variants(raw)) {
    const auto r = parse_received(v);
    CHECK(r.text ==
          "Bonjour,\nJe suis désolée, j’ai été hospitalisée. Je reprends dès que possible.\nMerci de votre "
          "patience,\nChloé");
    CHECK_FALSE(r.quote_removed);
    CHECK(r.from_name == "Chloé Bernard");
    CHECK(r.subject == "Re: Nous ne vous avons pas vu (été)");
    CHECK(r.refs.empty());
  }
}

TEST_CASE("received: attachments named, text from the text part", "[received]") {
  for (const auto& raw : line_end_variants(reply_with_attachments)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::message);
    CHECK(r.text == "Bonjour,\n\nVoici mon arrêt de travail en pièce jointe.\n\nLéa");
    // Outlook's inline image001.png (Content-ID in multipart/related) is not one.
    CHECK(r.attachments == Ids{"Arrêt de travail Léa.pdf", "photo certificat médical.jpg"});
  }
}

TEST_CASE("received: a message without Message-ID", "[received]") {
  const auto raw = std::string("From: lea@example.fr\nTo: relance@example.org\nSubject: coucou\n"
                               "Date: Mon, 23 Nov 2026 10:00:00 +0100\n\nJe reviens demain.\n");
  const auto r = parse_received(raw);
  CHECK(r.problem.empty());
  CHECK(r.message_id.empty());
  CHECK(r.from_address == "lea@example.fr");
  CHECK(r.from_name.empty());
  CHECK(r.text == "Je reviens demain.");
  CHECK(r.kind == Kind::message);
}

TEST_CASE("received: an empty body", "[received]") {
  for (const auto& raw : line_end_variants("From: Léa <lea@example.fr>\nSubject: Re: relance\n"
                                           "Message-ID: <x1@example.fr>\nIn-Reply-To: <relance.42@example.org>\n\n")) {
    const auto r = parse_received(raw);
    CHECK(r.problem.empty());
    CHECK(r.text.empty());
    CHECK_FALSE(r.quote_removed);
    CHECK(r.kind == Kind::message);
    CHECK(r.refs == Ids{"relance.42@example.org"});
  }
  CHECK(parse_received("From: lea@example.fr\n").text.empty());
}

TEST_CASE("received: garbage bytes set problem without crashing", "[received]") {
  CHECK_FALSE(parse_received("").problem.empty());
  CHECK_FALSE(parse_received("\r\n\r\n").problem.empty());
  const char png_bytes[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\xff\xfe\xfd garbage\n\n\x80\x81";
  const std::string png(png_bytes, sizeof png_bytes - 1);
  const auto r = parse_received(png);
  CHECK_FALSE(r.problem.empty());
  CHECK(valid_utf8(r.text));
  CHECK(valid_utf8(r.subject));

  // Random bytes, and every cut of real messages: never a crash, always UTF-8.
  std::mt19937 rng(20261123);
  for (int n = 0; n < 300; ++n) {
    std::string bytes(rng() % 600, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() % 256);
    const auto g = parse_received(bytes);
    CHECK(valid_utf8(g.text));
    CHECK(valid_utf8(g.from_name));
  }
  for (const auto fixture : {gmail_reply, postfix_bounce, iphone_reply, reply_with_attachments}) {
    for (std::size_t cut = 0; cut < fixture.size(); cut += 37) {
      const auto g = parse_received(fixture.substr(0, cut));
      CHECK(valid_utf8(g.text));
      CHECK(g.text.size() <= max_text);
    }
  }
}

TEST_CASE("received: invalid and unlabelled bytes become valid UTF-8", "[received]") {
  // Labelled UTF-8 but not: U+FFFD in place of each bad byte.
  const auto bad = parse_received(std::string("From: lea@example.fr\nSubject: x\nContent-Type: text/plain; "
                                              "charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                                              "Bonjour \xC3\x28 ça va \xFF\n"));
  CHECK(bad.text == "Bonjour \xEF\xBF\xBD( ça va \xEF\xBF\xBD");
  // No charset and Latin-1 bytes (old webmails): read as windows-1252.
  const auto latin = parse_received(std::string("From: lea@example.fr\nSubject: x\n\nMerci, j'ai re\xE7u le lien.\n"));
  CHECK(latin.text == "Merci, j'ai reçu le lien.");
  // Raw 8-bit headers: UTF-8 when valid, else windows-1252.
  CHECK(parse_received(std::string("From: lea@example.fr\nSubject: Re: Rappel \xE9t\xE9\n\nx")).subject ==
        "Re: Rappel été");
  CHECK(parse_received(std::string("From: \"Léa Martin\" <lea@example.fr>\nSubject: Re: café\n\nx")).subject ==
        "Re: café");
  CHECK(parse_received(std::string("From: \"Léa Martin\" <lea@example.fr>\nSubject: Re: café\n\nx")).from_name ==
        "Léa Martin");
}

TEST_CASE("received: text capped at max_text on a character boundary", "[received]") {
  std::string body = "a";
  for (int i = 0; i < 10000; ++i) body += "é";  // 20001 bytes
  const auto r = parse_received("From: lea@example.fr\nSubject: long\nContent-Type: text/plain; charset=utf-8\n"
                                "Content-Transfer-Encoding: 8bit\n\n" +
                                body);
  CHECK(r.text.size() == max_text - 1);  // byte 16384 is inside an é: cut before it
  CHECK(valid_utf8(r.text));
  CHECK(r.text.ends_with("é"));
}

// ---- automatic answers ---------------------------------------------------------

TEST_CASE("received: Exchange out-of-office is an auto reply", "[received]") {
  for (const auto& raw : line_end_variants(exchange_out_of_office)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::auto_reply);
    CHECK(r.subject == "Réponse automatique\u00a0: Nous ne vous avons pas vu depuis 14 jours");
    CHECK(r.text ==
          "Bonjour,\n\nJe suis absent du bureau jusqu'au 4 décembre inclus, avec un accès limité à ma "
          "messagerie.\n\nKarim Benali");
    CHECK(r.refs == Ids{"relance.42@example.org"});
    CHECK(r.bounce_detail.empty());
  }
}

TEST_CASE("received: auto reply markers, and what is not one", "[received]") {
  struct Row {
    std::string headers, subject;
    Kind kind;
  };
  const std::vector<Row> rows = {
      {"Auto-Submitted: auto-replied (vacation)\n", "Re: relance", Kind::auto_reply},
      {"Auto-Submitted: auto-generated\n", "Re: relance", Kind::auto_reply},
      {"Auto-Submitted: no\n", "Re: relance", Kind::message},
      {"X-Autoreply: yes\n", "Re: relance", Kind::auto_reply},
      {"X-Autorespond: vacation\n", "Re: relance", Kind::auto_reply},
      {"Precedence: bulk\n", "Re: relance", Kind::auto_reply},
      {"Precedence: junk\n", "Re: relance", Kind::auto_reply},
      {"Precedence: list\n", "Re: relance", Kind::auto_reply},
      {"Precedence: auto_reply\n", "Re: relance", Kind::auto_reply},
      {"X-MS-Exchange-Inbox-Rules-Loop: k.benali@entreprise.fr\n", "Re: relance", Kind::auto_reply},
      {"X-Auto-Response-Suppress: All\n", "RE: relance", Kind::message},
      {"", "Automatic reply: Nous ne vous avons pas vu", Kind::auto_reply},
      {"", "Out of Office: Nous ne vous avons pas vu", Kind::auto_reply},
      {"", "Absence du bureau", Kind::auto_reply},
      {"", "=?UTF-8?Q?R=C3=A9ponse_automatique_:_relance?=", Kind::auto_reply},
      {"", "Re: absence du bureau la semaine prochaine", Kind::message},
      {"", "Re: relance", Kind::message},
  };
  for (const auto& row : rows) {
    INFO(row.headers << row.subject);
    CHECK(parse_received(simple_mail(row.headers, row.subject, "Texte.\n")).kind == row.kind);
  }
}

// ---- delivery reports ----------------------------------------------------------

TEST_CASE("received: Postfix bounce with returned headers", "[received]") {
  for (const auto& raw : line_end_variants(postfix_bounce)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::bounce);  // despite Auto-Submitted: auto-replied
    CHECK(r.bounce_detail == "5.1.1 smtp; 550 5.1.1 <lea@example.fr>: Recipient address rejected: User unknown");
    CHECK(r.bounced_ids == Ids{"relance.42@example.org"});
    CHECK(r.from_address == "mailer-daemon@mail.example.org");
    CHECK(r.text.starts_with("This is the mail system at host mail.example.org."));
    CHECK(r.attachments.empty());
  }
}

TEST_CASE("received: Postfix delayed report is an auto reply, not a bounce", "[received]") {
  for (const auto& raw : line_end_variants(postfix_delayed)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::auto_reply);
    CHECK(r.bounce_detail.empty());
    CHECK(r.bounced_ids.empty());
    CHECK(r.text.find("THIS IS A WARNING ONLY") != std::string::npos);
  }
}

TEST_CASE("received: Gmail bounce with the returned message", "[received]") {
  for (const auto& raw : line_end_variants(gmail_bounce(true))) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::bounce);
    CHECK(r.bounce_detail ==
          "5.1.1 smtp; 550-5.1.1 The email account that you tried to reach does not exist. 550 5.1.1 "
          "https://support.google.com/mail/?p=NoSuchUser a1-20020a05 - gsmtp");
    CHECK(r.bounced_ids == Ids{"relance.43@example.org"});
    CHECK(r.from_address == "mailer-daemon@googlemail.com");
    CHECK(r.subject == "Delivery Status Notification (Failure)");
    CHECK(r.text.starts_with("** Adresse introuvable **\n\nVotre message n'a pas été distribué à "
                             "lea.martin.old@gmail.com"));
    CHECK(r.attachments.empty());  // the icon belongs to the HTML
  }
}

TEST_CASE("received: Gmail bounce without the returned message finds our id in the report", "[received]") {
  const auto r = parse_received(gmail_bounce(false));
  CHECK(r.kind == Kind::bounce);
  CHECK(r.bounced_ids == Ids{"relance.43@example.org"});
}

TEST_CASE("received: Exim free-form bounce, id scanned from the copy", "[received]") {
  for (const auto& raw : line_end_variants(exim_bounce)) {
    const auto r = parse_received(raw);
    CHECK(r.kind == Kind::bounce);
    CHECK(r.bounce_detail == "550 5.1.1 <lea@example.fr>: Recipient address rejected: User unknown");
    CHECK(r.bounced_ids == Ids{"relance.57@example.org"});
  }
}

TEST_CASE("received: free-form reports by subject", "[received]") {
  const auto non_remis = parse_received(crlf(R"EOF(From: Postmaster <postmaster@wanadoo.fr>
To: relance@example.org
Subject: Non remis : Nous ne vous avons pas vu depuis 14 jours
Date: Mon, 23 Nov 2026 10:02:00 +0100
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Votre message n'a pas pu être remis à lea@wanadoo.fr.

La boîte aux lettres du destinataire est pleine.

Sujet : Nous ne vous avons pas vu depuis 14 jours
Identifiant : <relance.61@example.org>
)EOF"));
  CHECK(non_remis.kind == Kind::bounce);
  CHECK(non_remis.bounce_detail ==
        "Votre message n'a pas pu être remis à lea@wanadoo.fr.\nLa boîte aux lettres du destinataire est pleine.\n"
        "Sujet : Nous ne vous avons pas vu depuis 14 jours");
  CHECK(non_remis.bounced_ids == Ids{"relance.61@example.org"});

  const auto delayed = parse_received(
      simple_mail("", "Delivery Status Notification (Delay)", "Delivery incomplete, still trying.\n"));
  CHECK(delayed.kind == Kind::auto_reply);
}

// ---- pieces --------------------------------------------------------------------------

TEST_CASE("received: relance_outbox_id", "[received]") {
  CHECK(relance_outbox_id("relance.42@example.org") == 42);
  CHECK(relance_outbox_id("<relance.42@example.org>") == 42);
  CHECK(relance_outbox_id(" <relance.7@mail.example.org> ") == 7);
  CHECK(relance_outbox_id("relance.9223372036854775807@example.org") == std::numeric_limits<std::int64_t>::max());
  CHECK_FALSE(relance_outbox_id("relance.9223372036854775808@example.org"));  // overflow
  CHECK_FALSE(relance_outbox_id("relance.99999999999999999999999@example.org"));
  CHECK_FALSE(relance_outbox_id("relance.x@example.org"));
  CHECK_FALSE(relance_outbox_id("relance.42x@example.org"));
  CHECK_FALSE(relance_outbox_id("relance.-1@example.org"));
  CHECK_FALSE(relance_outbox_id("other.42@example.org"));
  CHECK_FALSE(relance_outbox_id("relance.@example.org"));
  CHECK_FALSE(relance_outbox_id("relance.42@"));
  CHECK_FALSE(relance_outbox_id("relance.42"));
  CHECK_FALSE(relance_outbox_id(""));
}

TEST_CASE("received: strip_quoted keeps inline answers", "[received]") {
  const std::string inline_reply = "Bonjour,\n\n"
                                   "> Pouvez-vous nous dire où vous en êtes ?\n"
                                   "J'en suis au module 3.\n\n"
                                   "> Avez-vous besoin d'aide ?\n"
                                   "Oui, pour l'exercice 2.";
  CHECK(strip_quoted(inline_reply) == inline_reply);

  // Thunderbird's inline answer under its attribution: nothing is cut.
  const std::string under_attribution = "Le 23/11/2026 à 10:00, Organisme a écrit :\n"
                                        "> Pouvez-vous nous dire où vous en êtes ?\n"
                                        "Module 3.\n"
                                        "> Avez-vous besoin d'aide ?\n"
                                        "Non merci.";
  CHECK(strip_quoted(under_attribution) == under_attribution);

  // An inline answer then the trailing quote: only the tail goes.
  CHECK(strip_quoted("> Où en êtes-vous ?\nModule 3.\n\n> Cordialement,\n> L'équipe\n") ==
        "> Où en êtes-vous ?\nModule 3.");
}

TEST_CASE("received: strip_quoted cuts attributions and header blocks", "[received]") {
  CHECK(strip_quoted("Oui merci\n\n> Bonjour\n> Tout va bien ?\n") == "Oui merci");
  CHECK(strip_quoted("Sure, see you Monday.\n\nOn Mon, Nov 23, 2026 at 10:00 AM Organisme <relance@example.org>\n"
                     "wrote:\n\n> Hello") == "Sure, see you Monday.");
  CHECK(strip_quoted("D'accord.\nLe lun. 23 nov. 2026 à 10:00, Organisme <relance@example.org> a écrit\u00a0:\n"
                     "Bonjour") == "D'accord.");
  CHECK(strip_quoted("Thanks\n\nFrom: Organisme <relance@example.org>\nSent: Monday, November 23, 2026 10:00 AM\n"
                     "To: Karim\nSubject: We have not seen you\n\nHello Karim") == "Thanks");
  CHECK(strip_quoted("Merci\n\n*De :* Organisme <relance@example.org>\n*Envoyé :* lundi 23 novembre 2026\n"
                     "*À :* Karim\n*Objet :* relance\n\nBonjour") == "Merci");
  CHECK(strip_quoted("Ok\n-----Original Message-----\nFrom: x\n") == "Ok");
}

TEST_CASE("received: strip_quoted leaves ordinary text alone", "[received]") {
  const std::string teacher = "Le formateur m'a écrit : il faut refaire le module 2.\nJe m'y mets.";
  CHECK(strip_quoted(teacher) == teacher);
  const std::string de = "De : mon côté tout va bien.\nJe reviens lundi.";
  CHECK(strip_quoted(de) == de);
  const std::string all_quoted = "> Bonjour\n> Tout va bien ?";
  CHECK(strip_quoted(all_quoted) == all_quoted);
  const std::string only_history =
      "Le lun. 23 nov. 2026 à 10:00, Organisme <relance@example.org> a écrit :\n> Bonjour";
  CHECK(strip_quoted(only_history) == only_history);
  CHECK(strip_quoted("") == "");
}

TEST_CASE("received: html_to_text", "[received]") {
  CHECK(html_to_text("<p>Bonjour&nbsp;!</p><p>L&#39;&eacute;quipe &amp; moi &#x1F600; &#146;</p>") ==
        "Bonjour !\nL'équipe & moi \U0001F600 ’");
  CHECK(html_to_text("<html><head><title>X</title><style>p{color:red}</style></head><body>"
                     "<script>alert('<b>')</script>Texte</body></html>") == "Texte");
  CHECK(html_to_text("a<br><br><br><br>b") == "a\n\nb");
  CHECK(html_to_text("  Bonjour\n   tout   le monde  ") == "Bonjour tout le monde");
  CHECK(html_to_text("<ul><li>un</li><li>deux</li></ul><div>x</div><div>y</div>") == "un\ndeux\nx\ny");
  CHECK(html_to_text("a < b et c > d, &unknown; &amp") == "a < b et c > d, &unknown; &amp");
  CHECK(html_to_text("<table><tr><td>Nom</td><td>Léa</td></tr></table>") == "Nom Léa");
  CHECK(html_to_text("<div title=\"a > b\">ok</div><!-- <p>commentaire</p> -->") == "ok");
  CHECK(html_to_text("Oui<blockquote>cité<blockquote>encore</blockquote>toujours cité</blockquote>fin") ==
        "Oui\nfin");
  CHECK(html_to_text("<div>Merci</div><div class=\"moz-cite-prefix\">Le 23/11/2026 à 10:00, Organisme a "
                     "écrit&nbsp;:<br></div><blockquote type=\"cite\" cite=\"mid:relance.45@example.org\">Bonjour"
                     "</blockquote>") == "Merci");
  CHECK(html_to_text("<pre>  code\n  indenté</pre>") == "  code\n  indenté");
}

TEST_CASE("received: classic Outlook Word HTML, header block found in the text", "[received]") {
  const std::string word =
      "<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head><style><!-- p.MsoNormal {margin:0cm;} "
      "--></style></head><body lang=FR><div class=WordSection1><p class=MsoNormal>Bonjour,<o:p></o:p></p>"
      "<p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Je serai là lundi.<o:p></o:p></p>"
      "<p class=MsoNormal><o:p>&nbsp;</o:p></p><div><div style='border:none;border-top:solid #E1E1E1 1.0pt;"
      "padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b>De&nbsp;:</b> Organisme &lt;relance@example.org&gt; <br>"
      "<b>Envoyé&nbsp;:</b> lundi 23 novembre 2026 10:00<br><b>À&nbsp;:</b> Karim Benali<br>"
      "<b>Objet&nbsp;:</b> Nous ne vous avons pas vu<o:p></o:p></p></div></div><p class=MsoNormal>Bonjour "
      "Karim,<o:p></o:p></p></div></body></html>";
  CHECK(strip_quoted(html_to_text(word)) == "Bonjour,\n\nJe serai là lundi.");
}
