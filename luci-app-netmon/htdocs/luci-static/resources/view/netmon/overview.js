'use strict';
'require view';
'require fs';

// Status -> netmon -> Overview: the meters of `netmon report --peek --format
// json --days 14` and a bar chart of their last 14 days. Every string from
// the router goes into the page as a text node (E() with a string child),
// never as markup. `--peek`: looking at the page leaves the period of the
// next report (mailed or on the command line) where it was.
//
// Every fs.exec call is written as fs.exec('/usr/sbin/netmon', [ ... ]) on one
// line: tests/luci.sh reads the argv from these lines and checks that the
// ACL grants exactly them.

var SVG = 'http://www.w3.org/2000/svg';

function bytes(n) {
	var units = [ 'B', 'KiB', 'MiB', 'GiB', 'TiB' ], i = 0;
	n = +n || 0;
	while (n >= 1024 && i < units.length - 1) {
		n /= 1024;
		i++;
	}
	return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}

function svg(tag, attrs) {
	var el = document.createElementNS(SVG, tag);
	for (var k in attrs)
		el.setAttribute(k, String(attrs[k]));
	return el;
}

function run(argv) {
	return argv.then(function(res) {
		if (res.code !== 0)
			throw new Error((res.stderr || '').trim() || 'netmon exited with ' + res.code);
		return JSON.parse(res.stdout);
	});
}

// One bar per day: the sum of the meters' bytes that day, its date and
// size as a <title> (text, not markup).
function chart(days) {
	var w = 640, h = 160, pad = 20,
	    max = 1, sums = days.map(function(d) {
		var s = 0;
		for (var m in d.bytes)
			s += d.bytes[m];
		if (s > max)
			max = s;
		return s;
	});
	var root = svg('svg', { 'class': 'netmon-chart', 'width': w, 'height': h + pad,
		'viewBox': '0 0 ' + w + ' ' + (h + pad), 'role': 'img' });
	var bw = Math.floor(w / Math.max(days.length, 1));
	days.forEach(function(d, i) {
		var bh = Math.round(sums[i] / max * (h - 10)),
		    bar = svg('rect', { 'x': i * bw + 2, 'y': h - bh, 'width': Math.max(bw - 4, 1),
			'height': bh, 'fill': '#4a90d9' }),
		    tip = svg('title', {});
		tip.appendChild(document.createTextNode(d.date + ': ' + bytes(sums[i])));
		bar.appendChild(tip);
		root.appendChild(bar);
		var label = svg('text', { 'x': i * bw + bw / 2, 'y': h + 14, 'font-size': 10,
			'text-anchor': 'middle' });
		label.appendChild(document.createTextNode(String(d.date).slice(5)));
		root.appendChild(label);
	});
	return root;
}

return view.extend({
	load: function() {
		return run(fs.exec('/usr/sbin/netmon', [ 'report', '--peek', '--format', 'json', '--days', '14' ]));
	},

	render: function(r) {
		var rows = (r.meters || []).map(function(m) {
			return E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td' }, [ m.name + (m.retired ? ' ' + _('(retired)') : '') ]),
				E('td', { 'class': 'td' }, [ bytes(m.period_bytes) ]),
				E('td', { 'class': 'td' }, [ bytes(m.total_bytes) ]),
				E('td', { 'class': 'td' }, [ String(m.total_since) ])
			]);
		});
		var table = E('table', { 'class': 'table', 'id': 'netmon-meters' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, [ _('Meter') ]),
				E('th', { 'class': 'th' }, [ _('Since last report') ]),
				E('th', { 'class': 'th' }, [ _('Total') ]),
				E('th', { 'class': 'th' }, [ _('Total since') ])
			])
		].concat(rows));
		var notes = [];
		if (r.reset_detected)
			notes.push(E('p', { 'class': 'alert-message warning' }, [ _('A counter reset was detected in this period (counted, not lost).') ]));
		if (r.flow_offloading === 'hardware')
			notes.push(E('p', { 'class': 'alert-message warning' }, [ _('Hardware flow offloading is on: offloaded traffic bypasses the CPU and is not counted.') ]));
		return E([], [
			E('h2', {}, [ _('netmon: overview') ]),
			E('p', {}, [ _('Period') + ': ' + r.from + ' – ' + r.to ]),
		].concat(notes, [
			table,
			E('h3', {}, [ _('Last 14 days (all meters)') ]),
			E('div', { 'id': 'netmon-chart' }, (r.days && r.days.length) ? [ chart(r.days) ] : [ _('No day buckets yet.') ])
		]));
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
