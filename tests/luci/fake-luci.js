// A stand-in for the parts of LuCI the netmon views use (tests/luci.sh):
// E() and dom.append as LuCI's luci.js defines them, including the trap
// (an ARRAY's string items become text nodes, a bare string child is set as
// innerHTML), view.extend, fs.exec answering from the JSON the real netmon
// binary printed, ui.createHandlerFn, and a form.Map that renders its
// sections and options as plain elements (data-section, data-option) so the
// test can compare them with the options netmon's config reader knows.
// Not LuCI: written for this test from LuCI's documented behaviour.
'use strict';

var NETMON_CALLS = [];
var NETMON_DENIED = [];

function isNode(x) {
	return x !== null && typeof x === 'object' && typeof x.nodeType === 'number';
}

function append(node, children) {
	if (Array.isArray(children)) {
		for (var i = 0; i < children.length; i++)
			if (isNode(children[i]))
				node.appendChild(children[i]);
			else if (children[i] !== null && children[i] !== undefined)
				node.appendChild(document.createTextNode('' + children[i]));
		return node.lastChild;
	}
	if (typeof children === 'function')
		return append(node, children(node));
	if (isNode(children))
		return node.appendChild(children);
	if (children !== null && children !== undefined) {
		node.innerHTML = '' + children;
		return node.lastChild;
	}
	return null;
}

function E(html, attr, data) {
	var elem;
	if (!(attr instanceof Object) || Array.isArray(attr)) {
		data = attr;
		attr = null;
	}
	if (Array.isArray(html)) {
		elem = document.createDocumentFragment();
		for (var i = 0; i < html.length; i++)
			elem.appendChild(E(html[i]));
	} else if (isNode(html)) {
		elem = html;
	} else if (String(html).charAt(0) === '<') {
		var tmp = document.createElement('div');
		tmp.innerHTML = html;
		elem = tmp.firstChild;
	} else {
		elem = document.createElement(html);
	}
	for (var k in attr || {}) {
		var v = attr[k];
		if (v === null || v === undefined)
			continue;
		if (typeof v === 'function')
			elem.addEventListener(k, v);
		else if (typeof v === 'object')
			elem.setAttribute(k, JSON.stringify(v));
		else
			elem.setAttribute(k, v);
	}
	append(elem, data);
	return elem;
}

function _(s) {
	return String(s);
}

var L = {
	bind: function(fn, self) {
		var args = Array.prototype.slice.call(arguments, 2);
		return function() {
			return fn.apply(self, args.concat(Array.prototype.slice.call(arguments)));
		};
	}
};

var view = {
	extend: function(proto) {
		return Object.assign(Object.create({ refresh: null }), proto);
	}
};

// rpcd's check for the file object's exec: the command line, "command arg
// arg...", must match an entry of the session's ACL (NETMON_ACL: the
// package's read and write entries) as a glob (fnmatch without
// FNM_PATHNAME: * matches anything, spaces and slashes too).
function granted(line) {
	return NETMON_ACL.some(function(p) {
		var re = p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
		return new RegExp('^' + re + '$').test(line);
	});
}

// What rpcd refuses is rejected, as LuCI's fs.exec rejects a failed ubus
// call. Otherwise the argv the netmon binary was run with to make the data
// (NETMON_DATA: "ARGV JOINED BY SPACES" -> stdout) get that output; block
// and unblock succeed with none.
var fs = {
	exec: function(cmd, argv) {
		NETMON_CALLS.push([ cmd ].concat(argv));
		var key = argv.join(' ');
		if (!granted(cmd + ' ' + key)) {
			NETMON_DENIED.push(cmd + ' ' + key);
			return Promise.reject(new Error('PermissionError: ' + cmd + ' ' + key));
		}
		if (cmd === '/usr/sbin/netmon' && Object.prototype.hasOwnProperty.call(NETMON_DATA, key))
			return Promise.resolve({ code: 0, stdout: NETMON_DATA[key], stderr: '' });
		if (cmd === '/usr/sbin/netmon' && (argv[0] === 'block' || argv[0] === 'unblock'))
			return Promise.resolve({ code: 0, stdout: '', stderr: '' });
		return Promise.resolve({ code: 1, stdout: '', stderr: 'no test data for ' + key });
	}
};

var ui = {
	createHandlerFn: function(self, fn) {
		var args = Array.prototype.slice.call(arguments, 2);
		return function(ev) {
			var f = (typeof fn === 'string') ? self[fn] : fn;
			return f.apply(self, args.concat([ ev ]));
		};
	},
	addNotification: function(title, body) {
		document.getElementById('notifications').appendChild(body);
	}
};

// form: each option class is a name; an option remembers its settings.
var form = (function() {
	function Option(cls, name, title) {
		this.cls = cls;
		this.name = name;
		this.title = title;
		this.values = [];
	}
	Option.prototype.value = function(v, label) { this.values.push(v); };
	Option.prototype.depends = function() {};
	function Section(cls, args) {
		this.cls = cls;
		this.type = (cls === 'NamedSection') ? args[1] : args[0];
		this.name = (cls === 'NamedSection') ? args[0] : null;
		this.options = [];
	}
	Section.prototype.option = function(cls, name, title) {
		var o = new Option(cls.className, name, title);
		this.options.push(o);
		return o;
	};
	function Map(config, title) {
		this.config = config;
		this.title = title;
		this.sections = [];
	}
	Map.prototype.section = function(cls) {
		var s = new Section(cls.className, Array.prototype.slice.call(arguments, 1));
		this.sections.push(s);
		return s;
	};
	Map.prototype.render = function() {
		var m = this;
		return Promise.resolve(E('div', { 'class': 'cbi-map', 'data-config': m.config }, [
			E('h2', [ m.title ])
		].concat(m.sections.map(function(s) {
			return E('fieldset', { 'class': 'cbi-section', 'data-section-class': s.cls,
				'data-section-type': s.type, 'data-section': s.name || '' },
				s.options.map(function(o) {
					return E('div', { 'class': 'cbi-value', 'data-option': o.name,
						'data-option-class': o.cls, 'data-choices': o.values.join('|') }, [ o.title ]);
				}));
		}))));
	};
	var f = { Map: Map };
	[ 'NamedSection', 'TypedSection', 'Value', 'ListValue', 'Flag', 'DynamicList',
	  'MultiValue', 'DummyValue' ].forEach(function(c) {
		f[c] = { className: c };
	});
	return f;
})();

var rpc = {
	declare: function() {
		return function() { return Promise.reject(new Error('rpc is not used by the netmon views')); };
	}
};
